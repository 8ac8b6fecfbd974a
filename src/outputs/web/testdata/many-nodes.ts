/**
 * A generated scenario at the web view's limits: `nodes` nodes (10 by default) each running
 * `podsPerNode` pods (max-pods; a Deployment larger than the cluster fills every node, the rest
 * stay Pending), behind a Cluster LoadBalancer, plus a Local LoadBalancer with three replicas so
 * most nodes fail its probe; an internet laptop and a jump VM in a second subnet. `era` picks
 * today's defaults (transparent CNI, containerd) or the seed's 2019 ones (bridge mode, docker0).
 * A scenario file's text, so the CLI can walk it exactly as a user's file.
 */
export function manyNodesYaml(
  options: { nodes?: number; podsPerNode?: number; era?: "today" | "2019" } = {},
): string {
  const { nodes = 10, podsPerNode = 30, era = "today" } = options;
  const cluster =
    era === "2019"
      ? '  kubernetesVersion: "1.11.5"\n  cniMode: bridge\n' +
        "  dockerBridgeCidr: 172.17.0.1/16\n  loadBalancerSku: basic\n"
      : "";
  const deployment = (name: string, replicas: number) => `    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: ${name}
    spec:
      replicas: ${replicas}
      selector:
        matchLabels:
          app: ${name}
      template:
        metadata:
          labels:
            app: ${name}
        spec:
          containers:
          - name: ${name}
            image: nginx
            ports:
            - containerPort: 80
    ---
`;
  const service = (name: string, app: string, port: number, policy: string) => `    apiVersion: v1
    kind: Service
    metadata:
      name: ${name}
    spec:
      type: LoadBalancer
      externalTrafficPolicy: ${policy}
      ports:
      - port: ${port}
        targetPort: 80
      selector:
        app: ${app}
    ---
`;
  const manifests = (
    deployment("local-app", 3) +
    service("local-app", "local-app", 80, "Local") +
    deployment("fill", nodes * podsPerNode) +
    service("fill", "fill", 8080, "Cluster")
  ).replace(/ {4}---\n$/, "");
  return `name: many-nodes
description: ${nodes} nodes with ${podsPerNode} pods each (${era})
seed: 5
vnet:
  name: aks-vnet
  addressPrefixes: [10.224.0.0/12]
  subnets:
    - name: aks-subnet
      prefix: 10.224.0.0/16
    - name: jump
      prefix: 10.225.0.0/24
cluster:
  name: many
  nodeCount: ${nodes}
  maxPods: ${podsPerNode}
  subnet: aks-subnet
${cluster}manifests:
  - |
${manifests}hosts:
  - name: laptop
    ip: 203.0.113.10
  - name: jumpbox
    ip: 10.225.0.4
    subnet: jump
`;
}
