import type { Manifest, Scenario } from "../../model/scenario.ts";

/**
 * The seed's first cluster (externalTrafficPolicy Cluster) as a Scenario object, for control plane
 * unit tests that must not depend on the YAML reader. The built-in scenarios/seed-cluster.yaml
 * holds the same values for users.
 */

const whereamiDeployment: Manifest = {
  source: { file: "seed", line: 55 },
  object: {
    apiVersion: "apps/v1beta1",
    kind: "Deployment",
    metadata: { name: "whereami" },
    spec: {
      replicas: 2,
      strategy: { rollingUpdate: { maxSurge: 1, maxUnavailable: 1 } },
      minReadySeconds: 5,
      template: {
        metadata: { labels: { app: "whereami" } },
        spec: { containers: [{ name: "whereami", image: "erjosito/whereami:1.3", ports: [{ containerPort: 80 }] }] },
      },
    },
  },
};

function whereamiService(local: boolean): Manifest {
  return {
    source: { file: "seed", line: 75 },
    object: {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "whereami" },
      spec: {
        type: "LoadBalancer",
        ...(local ? { externalTrafficPolicy: "Local" } : {}),
        ports: [{ port: 80 }],
        selector: { app: "whereami" },
      },
    },
  };
}

const base = {
  description: "the seed",
  seed: 1,
  subscriptionId: "e7da9914-9b05-4891-893c-546cb7b0422e",
  resourceGroup: "akstest",
  location: "westeurope",
  vnet: {
    name: "aksVnet",
    addressPrefixes: ["10.13.0.0/16"],
    subnets: [
      { name: "aks", prefix: "10.13.76.0/24" },
      { name: "vmsubnet", prefix: "10.13.1.0/24" },
    ],
  },
  cluster: {
    name: "aksPacketWalkAzure",
    nodeCount: 1,
    vmSize: "Standard_B2ms",
    kubernetesVersion: "1.11.5",
    networkPlugin: "azure" as const,
    maxPods: 30,
    subnet: "aks",
    serviceCidr: "10.0.0.0/16",
    dnsServiceIp: "10.0.0.10",
    dockerBridgeCidr: "172.17.0.1/16",
    loadBalancerSku: "basic" as const,
    cniMode: "bridge" as const,
    nodePoolName: "nodepool1",
  },
  hosts: [
    { name: "laptop", ip: "109.125.120.58", kind: "internet" as const, subnet: null },
    { name: "testvm", ip: "10.13.1.4", kind: "vnet" as const, subnet: "vmsubnet" },
  ],
};

export const seedCluster: Scenario = {
  ...base,
  name: "seed-cluster",
  manifests: [whereamiDeployment, whereamiService(false)],
  pins: {
    nodePoolId: "31351229",
    nodes: [{ ip: "10.13.76.4", mac: "00:0d:3a:28:bd:02", docker0Mac: "02:42:40:60:81:ac" }],
    uids: { "Service/default/whereami": "48b4c0e1-1cfd-11e9-981c-7abfb60d882f" },
    clusterIps: { "default/whereami": "10.0.159.58" },
    nodePorts: { "default/whereami:80": 30064 },
    publicIps: { "default/whereami": "51.144.176.251" },
    pods: [
      {
        owner: "default/whereami",
        name: "whereami-564765b89-j7bpw",
        uid: "48a73a70-1cfd-11e9-981c-7abfb60d882f",
        ip: "10.13.76.7",
        containerId: "64cee2b89ac6",
      },
      {
        owner: "default/whereami",
        name: "whereami-564765b89-qfq2k",
        uid: "48a93ac3-1cfd-11e9-981c-7abfb60d882f",
        ip: "10.13.76.26",
        mac: "ee:af:f8:66:59:bd",
        veth: "azva4124965a9b",
        ifindex: 19,
        vethMac: "8a:4b:a8:d0:5c:24",
        containerId: "cd299e883674",
        pid: 29634,
      },
    ],
  },
};

export const seedLocal: Scenario = {
  ...base,
  name: "seed-local",
  manifests: [whereamiDeployment, whereamiService(true)],
  hosts: [{ name: "laptop", ip: "167.220.196.180", kind: "internet", subnet: null }, base.hosts[1] as Scenario["hosts"][number]],
  pins: {
    nodePoolId: "31351229",
    nodes: [
      {
        ip: "10.13.76.4",
        mac: "00:0d:3a:28:bd:02",
        docker0Mac: "02:42:40:60:81:ac",
        kubeProxyPod: "kube-proxy-l6th7",
        kubeProxyUid: "007d4629-1cfc-11e9-981c-7abfb60d882f",
        kubeProxyPid: 4372,
        kubeProxyContainerId: "8d6c75b6842ed2be7cd2db6f397ce2a090492fb9603d7a687aa150b734f6ebc0",
      },
    ],
    uids: { "Service/default/whereami": "96e1c7f9-1d54-11e9-981c-7abfb60d882f" },
    clusterIps: { "default/whereami": "10.0.12.96" },
    nodePorts: { "default/whereami:80": 32663 },
    healthCheckNodePorts: { "default/whereami": 32364 },
    publicIps: { "default/whereami": "13.93.66.174" },
    pods: [
      {
        owner: "default/whereami",
        name: "whereami-564765b89-nqgz9",
        uid: "96d0d44e-1d54-11e9-981c-7abfb60d882f",
        ip: "10.13.76.30",
        mac: "aa:08:fc:c4:9c:f8",
        veth: "azv47c3ee9d512",
        ifindex: 21,
        containerId: "0352b1445446",
        pid: 11232,
      },
      {
        owner: "default/whereami",
        name: "whereami-564765b89-jpkgg",
        uid: "96d2aa7c-1d54-11e9-981c-7abfb60d882f",
        ip: "10.13.76.15",
        containerId: "b0370d1f082e",
      },
    ],
  },
};
