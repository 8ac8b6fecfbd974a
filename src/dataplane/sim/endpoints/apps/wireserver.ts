import { uuidV4 } from "../../../../core/choose.ts";
import { seededRng } from "../../../../core/rng.ts";
import { httpApp, type TcpApp } from "../app.ts";
import { formatResponse, httpDate } from "../http.ts";

/**
 * Azure's wire server at 168.63.129.16:80 answering a VM's guest agent (world/guest-agent.ts): the
 * goal state at `/machine/?comp=goalstate`, and `/?comp=versions`. Its source is not public; what it
 * sends is known from captures:
 * - The documents' layout is a real one's (a goal state fetched with curl on an Azure VM, stored in
 *   a public repository's diagnostics, 2026; and the versions list of WALinuxAgent issue #61, 2016):
 *   Version, Incarnation, Machine, then the container with one role instance whose five configuration
 *   URLs name the container and the percent-encoded instance id, `GUID._VMNAME`. The config name
 *   takes the older `DEPLOYMENT.0.DEPLOYMENT.0.INSTANCE.INCARNATION.xml` form of 2016's captures.
 * - The answer is HTTP.sys's (Windows' kernel HTTP server, `Server: Microsoft-HTTPAPI/2.0`), fields
 *   in the order Azure Storage's HTTP.sys answers have them (Content-Length, Content-Type, Server,
 *   x-ms-*, Date), Connection: close for the agent's `Connection: close`, and the FIN with the
 *   answer's last segment (its disconnect flag), as the seed's `[FP.]` shows.
 * Neither the exact document nor the header fields of January 2019 are published: the seed's capture
 * fixes only the size, and of the forms above this one is its 2391 bytes for the seed's node
 * (`aks-nodepool1-31351229-0`, incarnation 1; line 285). Another VM's name makes it longer or
 * shorter. The container and VM ids are drawn from the VM's name: stable, unique per VM.
 */

export const WIRESERVER_IP = "168.63.129.16";

/** The VM a caller's address belongs to (a pod's address is its node's NIC's too), or null. */
export type VmOf = (ip: number) => { readonly name: string } | null;

/** The seed's capture: 703 µs from the agent's request to the answer (lines 284-285). */
const ANSWER_DELAY_US = 700;
/** The protocol version WALinuxAgent asks for (x-ms-version, wire.py PROTOCOL_VERSION). */
const PROTOCOL_VERSION = "2012-11-30";

/** A VM's ids as the fabric knows them. */
export function vmIdentity(name: string): { containerId: string; vmId: string; incarnation: number } {
  // FNV-1a of the name seeds the draw: the same VM always gets the same ids.
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  const rng = seededRng(h);
  return { containerId: uuidV4(rng), vmId: uuidV4(rng), incarnation: 1 };
}

/** Percent-encoding of an instance id in the config URLs: `-` and `_` too, as the captures show. */
const encodeId = (id: string): string =>
  id.replace(/[^A-Za-z0-9.]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export function goalStateXml(vmName: string): string {
  const { containerId, vmId, incarnation } = vmIdentity(vmName);
  const instance = `${vmId}._${vmName}`;
  const base = `http://${WIRESERVER_IP}:80/machine/${containerId}/${encodeId(instance)}`;
  const config = (type: string) => `${base}?comp=config&amp;type=${type}&amp;incarnation=${incarnation}`;
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<GoalState xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="goalstate10.xsd">',
    `  <Version>${PROTOCOL_VERSION}</Version>`,
    `  <Incarnation>${incarnation}</Incarnation>`,
    "  <Machine>",
    "    <ExpectedState>Started</ExpectedState>",
    "    <StopRolesDeadlineHint>300000</StopRolesDeadlineHint>",
    "    <LBProbePorts>",
    "      <Port>16001</Port>",
    "    </LBProbePorts>",
    "    <ExpectHealthReport>FALSE</ExpectHealthReport>",
    "  </Machine>",
    "  <Container>",
    `    <ContainerId>${containerId}</ContainerId>`,
    "    <RoleInstanceList>",
    "      <RoleInstance>",
    `        <InstanceId>${instance}</InstanceId>`,
    "        <State>Started</State>",
    "        <Configuration>",
    `          <HostingEnvironmentConfig>${config("hostingEnvironmentConfig")}</HostingEnvironmentConfig>`,
    `          <SharedConfig>${config("sharedConfig")}</SharedConfig>`,
    `          <ExtensionsConfig>${config("extensionsConfig")}</ExtensionsConfig>`,
    `          <FullConfig>${config("fullConfig")}</FullConfig>`,
    `          <Certificates>${base}?comp=certificates&amp;incarnation=${incarnation}</Certificates>`,
    `          <ConfigName>${vmId}.0.${vmId}.0._${vmName}.${incarnation}.xml</ConfigName>`,
    "        </Configuration>",
    "      </RoleInstance>",
    "    </RoleInstanceList>",
    "  </Container>",
    "</GoalState>",
  ].join("\n");
}

const VERSIONS = [
  '<?xml version="1.0" encoding="utf-8"?>',
  "<Versions>",
  "  <Preferred>",
  "    <Version>2015-04-05</Version>",
  "  </Preferred>",
  "  <Supported>",
  ...[
    "2015-04-05",
    "2012-11-30",
    "2012-09-15",
    "2012-05-15",
    "2011-12-31",
    "2011-10-15",
    "2011-08-31",
    "2011-04-07",
    "2010-12-15",
    "2010-28-10",
  ].map((v) => `    <Version>${v}</Version>`),
  "  </Supported>",
  "</Versions>",
].join("\n");

export function wireServerApp(vmOf: VmOf): TcpApp {
  return httpApp({
    name: "wireserver",
    keepAliveTimeoutUs: null,
    delayUs: ANSWER_DELAY_US,
    finWithData: true,
    handle: ({ request, ctx, closing }) => {
      const vm = vmOf(ctx.remote.ip);
      const body =
        request.target === "/machine/?comp=goalstate" && vm
          ? goalStateXml(vm.name)
          : request.target === "/?comp=versions"
            ? VERSIONS
            : null;
      const fields: [string, string][] = [
        ["Content-Length", String(body?.length ?? 0)],
        ...(body === null ? [] : [["Content-Type", "text/xml; charset=utf-8"] as [string, string]]),
        ["Server", "Microsoft-HTTPAPI/2.0"],
        ["x-ms-version", PROTOCOL_VERSION],
        ["Date", httpDate(ctx.now)],
        ...(closing ? [["Connection", "close"] as [string, string]] : []),
      ];
      // Anything else: an empty 404 (what the wire server says to other paths is not known).
      return formatResponse(body === null ? 404 : 200, fields, body ?? "");
    },
  });
}
