import assert from "node:assert/strict";
import { it } from "node:test";
import { imageCell } from "./docker.ts";

const ID = "sha256:c8e4ff7df02600a3b6cf3b1d5a9c8e8f0e5c1f2a3b4c5d6e7f8091a2b3c4d5e6";
const OTHER_ID = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

it("docker ps' IMAGE cell: an image ID's 12 hex digits, a digest reference's name, a tag as it is", () => {
  // The seed shows all three: c8e4ff7df026 (line 363), erjosito/whereami (line 205), and the pause
  // image's tag as the widest cell of its IMAGE column.
  assert.equal(imageCell(ID, ID), "c8e4ff7df026");
  assert.equal(imageCell(`erjosito/whereami@${OTHER_ID}`, ID), "erjosito/whereami");
  assert.equal(imageCell("k8s.gcr.io/pause-amd64:3.1", ID), "k8s.gcr.io/pause-amd64:3.1");
});

it("docker ps' IMAGE cell: references in their familiar form, a tag kept when a digest is dropped", () => {
  assert.equal(imageCell(`docker.io/library/nginx@${OTHER_ID}`, ID), "nginx");
  assert.equal(imageCell("index.docker.io/library/nginx:1.15", ID), "nginx:1.15");
  assert.equal(imageCell(`library/nginx:1.15@${OTHER_ID}`, ID), "nginx:1.15");
  assert.equal(imageCell("docker.io/erjosito/whereami:1.3", ID), "erjosito/whereami:1.3");
  // A registry is a first component with a dot or a port, or localhost; the path keeps its library/.
  assert.equal(imageCell("localhost:5000/library/app:2", ID), "localhost:5000/library/app:2");
  assert.equal(imageCell("registry/app", ID), "registry/app");
});

it("docker ps' IMAGE cell: an ID other than the container's image, and what is no reference, print as they are", () => {
  // TruncateID(ImageID) == TruncateID(Image) is the only way to the 12 digits.
  assert.equal(imageCell(OTHER_ID, ID), OTHER_ID);
  assert.equal(imageCell("Erjosito/Whereami:1.3", ID), "Erjosito/Whereami:1.3");
  assert.equal(imageCell("", ID), "<no image>");
});
