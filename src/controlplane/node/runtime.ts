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
 *
 * What each container was created from (docker's Config.Image) is what the kubelet's
 * EnsureImageExists returned (pkg/kubelet/images/image_manager.go), passed through
 * generateContainerConfig and dockershim's CreateContainer unchanged: for an image already on the
 * node, GetImageRef's image ID (`sha256:…`, kuberuntime_image.go: ImageStatus' Id); after a pull,
 * dockershim's getImageRef (docker_image.go): the image's first repo digest (`repo@sha256:…`, in
 * the familiar form docker's image inspect gives). AKS's add-ons (kube-system) run from images baked into the node's VHD (aks-engine
 * vhd/packer/install-dependencies.sh pre-pulls them), the user's images are pulled unless a pin
 * says the image was there (pins.pods[].imageId: the seed's second half, line 363, reuses the
 * whereami image the first half pulled; a pin wins over the pull policy, which the twin does not
 * model). Sandboxes are created from the pause image's tag (dockershim RunPodSandbox, the
 * kubelet's --pod-infra-container-image).
 */

export interface PodRuntime {
  readonly pod: Pod;
  readonly sandbox: DockerContainer;
  readonly containers: readonly DockerContainer[];
}

const PAUSE_IMAGE = "k8s.gcr.io/pause-amd64:3.1";

/** An image reference split as distribution/reference parses one: familiar name, tag, digest. */
export interface ImageRef {
  /** Without `docker.io/` and `library/` (reference.FamiliarName): `nginx`, `erjosito/whereami`. */
  readonly name: string;
  readonly tag: string | null;
  readonly digest: string | null;
}

/**
 * `[domain/]path[:tag][@digest]` as distribution/reference's ParseNormalizedNamed reads it
 * (normalize.go): the first component is a registry only if it holds `.` or `:` or is `localhost`;
 * `index.docker.io` is `docker.io`. Null where it fails: an upper-case repository, or 64 hex
 * digits (an image ID is not a name).
 */
export function parseImageRef(ref: string): ImageRef | null {
  const at = ref.indexOf("@");
  let rest = at < 0 ? ref : ref.slice(0, at);
  const digest = at < 0 ? null : ref.slice(at + 1);
  const colon = rest.lastIndexOf(":");
  const tag = colon > rest.lastIndexOf("/") ? rest.slice(colon + 1) : null;
  if (tag !== null) rest = rest.slice(0, colon);
  if (rest === "" || /^[0-9a-f]{64}$/.test(rest)) return null;
  const slash = rest.indexOf("/");
  const first = slash < 0 ? "" : rest.slice(0, slash);
  const hasDomain = /[.:]/.test(first) || first === "localhost";
  let domain = hasDomain ? first : "docker.io";
  const path = hasDomain ? rest.slice(slash + 1) : rest;
  if (path !== path.toLowerCase()) return null;
  if (domain === "index.docker.io") domain = "docker.io";
  if (domain !== "docker.io") return { name: `${domain}/${path}`, tag, digest };
  const official = path.startsWith("library/") && !path.includes("/", "library/".length);
  return { name: official ? path.slice("library/".length) : path, tag, digest };
}

/** An image as the node's docker holds it: its ID, and the repo digest a pull of it returns. */
interface NodeImage {
  readonly id: string;
  readonly repoDigest: string;
}

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
  let anyImagePin = false;
  for (const p of pins.values()) {
    if (p.pid) usedPids.add(p.pid);
    if (p.imageId) anyImagePin = true;
  }
  for (const p of extraPins.values()) if (p.pid) usedPids.add(p.pid);
  // Images a pin says were on this node already, with the leading digits of their ID: every
  // container of such an image here is created from that ID.
  const pinnedIds = new Map<string, string>();
  if (anyImagePin)
    for (const pod of pods) {
      const hex = pins.get(`${pod.meta.namespace}/${pod.meta.name}`)?.imageId;
      const image = pod.containers[0]?.image;
      if (hex && image) pinnedIds.set(image, hex.replace(/^sha256:/, ""));
    }
  // Each image's ID and digest come from its own stream (`Image/<ref>`), drawn once per node: all
  // its containers, on every node, agree.
  const images = new Map<string, NodeImage>();
  const imageOf = (image: string): NodeImage => {
    let known = images.get(image);
    if (!known) {
      const r = streams(`Image/${image}`);
      const id = hexString(r, 64);
      const pinned = pinnedIds.get(image) ?? "";
      const ref = parseImageRef(image);
      known = {
        id: `sha256:${pinned}${id.slice(pinned.length)}`,
        repoDigest: `${ref?.name ?? image}@${ref?.digest ?? `sha256:${hexString(r, 64)}`}`,
      };
      images.set(image, known);
    }
    return known;
  };
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
  const pause = imageOf(PAUSE_IMAGE);
  return pods.map((pod): PodRuntime => {
    const key = `${pod.meta.namespace}/${pod.meta.name}`;
    const pin = pins.get(key) ?? extraPins.get(key);
    rng = streams(`Runtime/${key}`);
    const suffix = `${pod.meta.name}_${pod.meta.namespace}_${pod.meta.uid}`;
    const sandbox: DockerContainer = {
      id: id(),
      configImage: PAUSE_IMAGE,
      imageId: pause.id,
      command: "/pause",
      createdAt: pod.meta.createdAt,
      name: `k8s_POD_${suffix}_0`,
      pid: pid(),
      pod: key,
      sandbox: true,
    };
    const preloaded = pod.meta.namespace === "kube-system";
    const containers = pod.containers.map((c, i): DockerContainer => {
      const image = imageOf(c.image);
      return {
        id: id(i === 0 ? pin?.containerId : undefined),
        configImage: preloaded || pinnedIds.has(c.image) ? image.id : image.repoDigest,
        imageId: image.id,
        command: commandFor(pod, c.name),
        createdAt: pod.meta.createdAt,
        name: `k8s_${c.name}_${suffix}_0`,
        pid: i === 0 && pin?.pid ? pin.pid : pid(),
        pod: key,
        sandbox: false,
      };
    });
    return { pod, sandbox, containers };
  });
}
