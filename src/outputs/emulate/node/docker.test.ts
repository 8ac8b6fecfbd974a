import assert from "node:assert/strict";
import { it } from "node:test";
import { imageCell } from "./docker.ts";

it("docker ps' IMAGE cell: an image ID's 12 hex digits, a digest reference's name, a tag as it is", () => {
  // The seed shows all three: c8e4ff7df026 (line 363), erjosito/whereami (line 205), and the pause
  // image's tag as the widest cell of its IMAGE column.
  assert.equal(
    imageCell({ id: "sha256:c8e4ff7df02600a3b6cf3b1d5a9c8e8f0e5c1f2a3b4c5d6e7f8091a2b3c4d5e6" }),
    "c8e4ff7df026",
  );
  assert.equal(imageCell({ digestOf: "erjosito/whereami" }), "erjosito/whereami");
  assert.equal(imageCell({ tagged: "k8s.gcr.io/pause-amd64:3.1" }), "k8s.gcr.io/pause-amd64:3.1");
});
