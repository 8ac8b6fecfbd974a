import { z } from "zod";
import { intIn } from "./schema.ts";

/**
 * The parts of Kubernetes manifests the twin reads, checked the way the API server would refuse
 * them. Objects are loose: any other field a real manifest carries (resources, probes, strategy...)
 * is accepted and ignored. Kinds accepted: Deployment (apps/v1beta1, v1beta2, v1), v1 Service, v1 Pod.
 */

const m = (s: string, re: RegExp) => z.string(s).regex(re, s);
/** DNS-1123 subdomain (object names) and label (namespaces, port names). */
const objectName = m(
  "must be a lower-case DNS name (letters, digits, '-', '.'), at most 253",
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
);
const dnsLabel = m(
  "must be a DNS label: lower-case letters, digits and '-', at most 63",
  /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/,
);
const labels = z.record(
  m(
    "must be a label key like app or app.kubernetes.io/name",
    /^([a-z0-9.-]{1,253}\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
  ),
  z.string('must be a string (quote values like "true" or "1")'),
  "must be a map of label keys to strings",
);
const protocol = z.enum(["TCP", "UDP", "SCTP"], "must be TCP, UDP or SCTP");
const port = intIn(1, 65535);

const metadata = z.looseObject({
  name: objectName,
  namespace: dnsLabel.optional(),
  labels: labels.optional(),
});

const container = z.looseObject({
  name: dnsLabel,
  image: z.string("must be an image name like nginx:1.27"),
  ports: z
    .array(
      z.looseObject({
        containerPort: port,
        name: m(
          "must be an IANA service name (at most 15 characters)",
          /^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/,
        ).optional(),
        protocol: protocol.optional(),
      }),
      "must be a list of ports",
    )
    .optional(),
});

const podSpec = z.looseObject({
  containers: z.array(container, "must be a list of containers").min(1, "must list at least one container"),
  hostNetwork: z.boolean("must be true or false").optional(),
});

export const deploymentSchema = z.looseObject({
  apiVersion: z.string(),
  kind: z.literal("Deployment"),
  metadata,
  spec: z.looseObject({
    replicas: intIn(0, 1000).optional(),
    selector: z
      .strictObject(
        { matchLabels: labels },
        "must be { matchLabels: {...} } (matchExpressions is not modelled)",
      )
      .optional(),
    template: z.looseObject({
      metadata: z.looseObject({ labels }),
      spec: podSpec,
    }),
  }),
});

export const serviceSchema = z.looseObject({
  apiVersion: z.literal("v1"),
  kind: z.literal("Service"),
  metadata,
  spec: z.looseObject({
    type: z
      .enum(
        ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"],
        "must be ClusterIP, NodePort, LoadBalancer or ExternalName",
      )
      .optional(),
    clusterIP: m('must be an IPv4 address or "None"', /^(None|\d{1,3}(\.\d{1,3}){3})$/).optional(),
    ports: z
      .array(
        z.looseObject({
          name: dnsLabel.optional(),
          protocol: protocol.optional(),
          port,
          targetPort: z.union([port, dnsLabel], "must be a port number or a container port name").optional(),
          nodePort: z.int("must be an integer port number").optional(),
        }),
        "must be a list of ports",
      )
      .optional(),
    selector: labels.nullable().optional(),
    externalTrafficPolicy: z.enum(["Cluster", "Local"], "must be Cluster or Local").optional(),
    healthCheckNodePort: z.int("must be an integer port number").optional(),
    sessionAffinity: z.enum(["None", "ClientIP"], "must be None or ClientIP").optional(),
    loadBalancerIP: m("must be an IPv4 address", /^\d{1,3}(\.\d{1,3}){3}$/).optional(),
    externalName: z.string().optional(),
  }),
});

export const podSchema = z.looseObject({
  apiVersion: z.literal("v1"),
  kind: z.literal("Pod"),
  metadata,
  spec: podSpec,
});

export type DeploymentManifest = z.infer<typeof deploymentSchema>;
export type ServiceManifest = z.infer<typeof serviceSchema>;
export type PodManifest = z.infer<typeof podSchema>;

export const DEPLOYMENT_API_VERSIONS = ["apps/v1", "apps/v1beta2", "apps/v1beta1"];

/** The schema for an object's apiVersion/kind, or why it is not accepted. */
export function schemaFor(apiVersion: unknown, kind: unknown): { schema: z.ZodType } | { why: string } {
  const accepted = "expected a Deployment (apps/v1, apps/v1beta2, apps/v1beta1), a v1 Service or a v1 Pod";
  if (typeof kind !== "string" || typeof apiVersion !== "string")
    return { why: `a manifest needs apiVersion and kind (${accepted})` };
  if (kind === "Deployment")
    return DEPLOYMENT_API_VERSIONS.includes(apiVersion)
      ? { schema: deploymentSchema }
      : { why: `Deployment of apiVersion ${apiVersion} is not supported (${accepted})` };
  if (kind === "Service" || kind === "Pod")
    return apiVersion === "v1"
      ? { schema: kind === "Service" ? serviceSchema : podSchema }
      : { why: `${kind} of apiVersion ${apiVersion} is not supported (${accepted})` };
  return { why: `kind ${kind} is not supported (${accepted})` };
}
