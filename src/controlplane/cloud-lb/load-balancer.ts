import { intBelow, uuidV4 } from "../../core/choose.ts";
import type { Rng, Streams } from "../../core/rng.ts";
import type {
  BackendAddressPool,
  FrontendIpConfiguration,
  LoadBalancer,
  LoadBalancingRule,
  Probe,
  PublicIpAddress,
} from "../../model/azure.ts";
import type { Service } from "../../model/k8s.ts";
import type { LoadBalancerSku } from "../../model/scenario.ts";
import { networkId } from "../azure/ids.ts";

/**
 * What cloud-provider-azure builds for Services of type LoadBalancer (docs/azure.md §1-2, read in
 * kubernetes-sigs/cloud-provider-azure: getLoadBalancerRuleName, getExpectedLBRules,
 * reconcileLoadBalancerRule): one LB named `kubernetes` (`kubernetes-internal` for internal
 * services), a frontend and a public IP `kubernetes-a<uid32>` per service, a rule
 * `a<uid32>-TCP-<port>` per port with floating IP on and BackendPort = the service port, the probe
 * (TCP on the node port for Cluster; HTTP /healthz on the health check node port for Local), and
 * the backend pool `kubernetes` of every node's primary IP configuration. `a<uid32>` is "a" and the
 * UID without dashes, cut to 32 characters (the UID's last hex digit is dropped).
 */

export interface LbInput {
  readonly services: readonly Service[];
  readonly subscriptionId: string;
  readonly nodeResourceGroup: string;
  readonly location: string;
  readonly sku: LoadBalancerSku;
  readonly era: "2019" | "today";
  /** Every node's primary IP configuration id, in node order. */
  readonly nodeIpConfigIds: readonly string[];
  /** `namespace/name` → public IP (pins). */
  readonly publicIpPins: Readonly<Record<string, string>>;
  /** The outbound frontend and each service's public IP draw from their own streams. */
  readonly streams: Streams;
}

export interface LbResult {
  readonly loadBalancers: LoadBalancer[];
  readonly publicIps: PublicIpAddress[];
  /** `namespace/name` → the address written to status.loadBalancer.ingress. */
  readonly ingress: Map<string, string>;
  /** Backend pool ids each node IP configuration belongs to. */
  readonly poolsOfIpConfig: Map<string, string[]>;
}

const INTERNAL = "service.beta.kubernetes.io/azure-load-balancer-internal";
/** First octets of Azure public address blocks, for unpinned VIPs. */
const AZURE_PUBLIC_FIRST_OCTETS = [13, 20, 40, 51, 52, 104];

export function lbPrefix(uid: string): string {
  return `a${uid.replaceAll("-", "")}`.slice(0, 32);
}

export function buildLoadBalancers(input: LbInput): LbResult {
  const { era } = input;
  const sub = input.subscriptionId;
  const rg = input.nodeResourceGroup;
  const skuName = input.sku === "standard" ? "Standard" : "Basic";
  const lbServices = input.services.filter((s) => s.type === "LoadBalancer");
  const publicIps: PublicIpAddress[] = [];
  const ingress = new Map<string, string>();
  const poolsOfIpConfig = new Map<string, string[]>();
  const loadBalancers: LoadBalancer[] = [];

  for (const internal of [false, true]) {
    const name = internal ? "kubernetes-internal" : "kubernetes";
    const services = lbServices.filter((s) => (s.meta.annotations[INTERNAL] === "true") === internal);
    // A Standard public LB exists from cluster creation (outbound rules); otherwise only when needed.
    const outbound = !internal && input.sku === "standard";
    if (services.length === 0 && !outbound) continue;
    const lbId = networkId(sub, rg, "loadBalancers", name);
    const poolId = `${lbId}/backendAddressPools/kubernetes`;
    const pools: BackendAddressPool[] = [
      { id: poolId, name: "kubernetes", backendIpConfigurationIds: input.nodeIpConfigIds },
    ];
    if (outbound) {
      pools.push({
        id: `${lbId}/backendAddressPools/aksOutboundBackendPool`,
        name: "aksOutboundBackendPool",
        backendIpConfigurationIds: input.nodeIpConfigIds,
      });
    }
    for (const ipc of input.nodeIpConfigIds) {
      poolsOfIpConfig.set(ipc, [...(poolsOfIpConfig.get(ipc) ?? []), ...pools.map((p) => p.id)]);
    }
    const frontends: FrontendIpConfiguration[] = [];
    const rules: LoadBalancingRule[] = [];
    const probes: Probe[] = [];
    if (outbound) {
      const rng = input.streams(`LoadBalancer/${name}/outbound`);
      const guid = uuidV4(rng);
      const pip = publicIp(sub, rg, input.location, guid, randomPublicIp(rng), skuName, {});
      publicIps.push(pip);
      frontends.push({
        id: `${lbId}/frontendIPConfigurations/${guid}`,
        name: guid,
        publicIpAddressId: pip.id,
        privateIpAddress: null,
        ipAddress: pip.ipAddress,
      });
    }
    for (const svc of services) {
      const key = `${svc.meta.namespace}/${svc.meta.name}`;
      const prefix = lbPrefix(svc.meta.uid);
      const feId = `${lbId}/frontendIPConfigurations/${prefix}`;
      const address =
        input.publicIpPins[key] ??
        svc.loadBalancerIngress[0] ??
        randomPublicIp(input.streams(`LoadBalancer/${key}`));
      if (internal) {
        frontends.push({
          id: feId,
          name: prefix,
          publicIpAddressId: null,
          privateIpAddress: address,
          ipAddress: address,
        });
      } else {
        const pip = publicIp(sub, rg, input.location, `kubernetes-${prefix}`, address, skuName, {
          "k8s-azure-service": key,
          "k8s-azure-cluster-name": "kubernetes",
        });
        publicIps.push(pip);
        frontends.push({
          id: feId,
          name: prefix,
          publicIpAddressId: pip.id,
          privateIpAddress: null,
          ipAddress: address,
        });
      }
      ingress.set(key, address);
      const local = svc.externalTrafficPolicy === "Local";
      // Today one probe per service on the health check node port (named after it); 2019 one per port.
      const sharedProbe =
        local && era === "today"
          ? makeProbe(
              lbId,
              `${prefix}-TCP-${svc.healthCheckNodePort}`,
              "Http",
              svc.healthCheckNodePort,
              "/healthz",
              era,
            )
          : null;
      if (sharedProbe) probes.push(sharedProbe);
      for (const port of svc.ports) {
        const ruleName = `${prefix}-${port.protocol}-${port.port}`;
        const ruleId = `${lbId}/loadBalancingRules/${ruleName}`;
        let probe = sharedProbe;
        if (!probe && (local || port.protocol === "TCP")) {
          probe = local
            ? makeProbe(lbId, ruleName, "Http", svc.healthCheckNodePort, "/healthz", era)
            : makeProbe(lbId, ruleName, "Tcp", port.nodePort, null, era);
          probes.push(probe);
        }
        if (probe) (probe.loadBalancingRuleIds as string[]).push(ruleId);
        rules.push({
          id: ruleId,
          name: ruleName,
          protocol: port.protocol === "UDP" ? "Udp" : port.protocol === "TCP" ? "Tcp" : "All",
          frontendPort: port.port,
          backendPort: port.port,
          enableFloatingIp: true,
          // The seed's 2019 table shows EnableTcpReset False and no DisableOutboundSnat column.
          enableTcpReset: era === "2019" ? false : input.sku === "standard" && port.protocol === "TCP",
          disableOutboundSnat: era === "2019" ? null : false,
          idleTimeoutInMinutes: 4,
          loadDistribution: svc.sessionAffinity === "ClientIP" ? "SourceIP" : "Default",
          frontendIpConfigurationId: feId,
          backendAddressPoolId: poolId,
          probeId: probe?.id ?? null,
          service: `${key}:${port.port}`,
        });
      }
    }
    loadBalancers.push({
      id: lbId,
      name,
      resourceGroup: rg,
      location: input.location,
      sku: skuName,
      frontendIpConfigurations: frontends,
      backendAddressPools: pools,
      loadBalancingRules: rules,
      probes,
    });
  }
  return { loadBalancers, publicIps, ingress, poolsOfIpConfig };
}

function makeProbe(
  lbId: string,
  name: string,
  protocol: "Tcp" | "Http",
  port: number,
  requestPath: string | null,
  era: "2019" | "today",
): Probe {
  return {
    id: `${lbId}/probes/${name}`,
    name,
    protocol,
    port,
    intervalInSeconds: 5,
    numberOfProbes: era === "2019" ? 2 : null,
    probeThreshold: era === "today" ? 2 : null,
    requestPath,
    loadBalancingRuleIds: [],
  };
}

function publicIp(
  sub: string,
  rg: string,
  location: string,
  name: string,
  ipAddress: string,
  sku: "Basic" | "Standard",
  tags: Record<string, string>,
): PublicIpAddress {
  return {
    id: networkId(sub, rg, "publicIPAddresses", name),
    name,
    resourceGroup: rg,
    location,
    ipAddress,
    sku,
    allocationMethod: sku === "Standard" ? "Static" : "Dynamic",
    tags,
  };
}

function randomPublicIp(rng: Rng): string {
  const first = AZURE_PUBLIC_FIRST_OCTETS[intBelow(rng, AZURE_PUBLIC_FIRST_OCTETS.length)];
  return `${first}.${intBelow(rng, 256)}.${intBelow(rng, 256)}.${1 + intBelow(rng, 254)}`;
}
