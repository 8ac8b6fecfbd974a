import { hexString, intBelow } from "../../core/choose.ts";
import type { Rng, Streams } from "../../core/rng.ts";
import type { Pod } from "../../model/k8s.ts";
import type { DockerContainer } from "../../model/node.ts";
import type { PodPin } from "../../model/scenario.ts";

/**
 * The container runtime on a node: for each pod, the pause sandbox that holds its network
 * namespace and one container per spec container, named the way dockershim names them
 * (`k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`, `k8s_POD_...` for the sandbox; the
 * seed's `docker ps` at line 204). IDs are 64 hex digits; PIDs are drawn from the seeded RNG
 * unless pinned (the seed's `docker inspect` shows 29634 and 11232).
 */

export interface PodRuntime {
  readonly pod: Pod;
  readonly sandbox: DockerContainer;
  readonly containers: readonly DockerContainer[];
}

const PAUSE_IMAGE = "k8s.gcr.io/pause-amd64:3.1";

function commandFor(pod: Pod, containerName: string): string {
  if (pod.app.kind === "whereami") return "/bin/sh -c '/usr/sbin/apache2ctl -D FOREGROUND'";
  if (containerName === "kube-proxy") return "/hyperkube proxy --kubeconfig=/var/lib/kubelet/kubeconfig";
  return `/${containerName}`;
}

export function buildRuntime(
  pods: readonly Pod[],
  pins: ReadonlyMap<string, PodPin>,
  extraPins: ReadonlyMap<string, { containerId?: string; pid?: number }>,
  streams: Streams,
): PodRuntime[] {
  const usedPids = new Set<number>();
  for (const p of pins.values()) if (p.pid) usedPids.add(p.pid);
  for (const p of extraPins.values()) if (p.pid) usedPids.add(p.pid);
  // The current pod's stream (`Runtime/ns/name`), so a pod added later changes no other's ids.
  let rng: Rng = streams("");
  const pid = (): number => {
    for (;;) {
      const n = 1000 + intBelow(rng, 31000);
      if (!usedPids.has(n)) {
        usedPids.add(n);
        return n;
      }
    }
  };
  const id = (prefix?: string): string => {
    const p = (prefix ?? "").toLowerCase();
    return p + hexString(rng, 64 - p.length);
  };
  return pods.map((pod): PodRuntime => {
    const key = `${pod.meta.namespace}/${pod.meta.name}`;
    const pin = pins.get(key) ?? extraPins.get(key);
    rng = streams(`Runtime/${key}`);
    const suffix = `${pod.meta.name}_${pod.meta.namespace}_${pod.meta.uid}`;
    const sandbox: DockerContainer = {
      id: id(),
      image: PAUSE_IMAGE,
      command: "/pause",
      createdAt: pod.meta.createdAt,
      name: `k8s_POD_${suffix}_0`,
      pid: pid(),
      pod: key,
      sandbox: true,
    };
    const containers = pod.containers.map(
      (c, i): DockerContainer => ({
        id: id(i === 0 ? pin?.containerId : undefined),
        image: c.image,
        command: commandFor(pod, c.name),
        createdAt: pod.meta.createdAt,
        name: `k8s_${c.name}_${suffix}_0`,
        pid: i === 0 && pin?.pid ? pin.pid : pid(),
        pod: key,
        sandbox: false,
      }),
    );
    return { pod, sandbox, containers };
  });
}
