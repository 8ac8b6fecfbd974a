import { stringify } from "yaml";
import type { Json } from "./objects.ts";

/**
 * kubectl's -o json and -o yaml encodings. kubectl reads objects as unstructured maps, so Go's
 * encoding/json sorts every map's keys; the JSON printer is json.MarshalIndent(obj, "", "    ")
 * plus a newline, and Go escapes <, >, & and U+2028/U+2029 inside strings (json.HTMLEscape).
 * The YAML printer is sigs.k8s.io/yaml (JSON → gopkg.in/yaml.v2): keys sorted, two-space indent,
 * list items at their key's indentation.
 */

function sortKeys(value: Json): Json {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const o = value as { readonly [k: string]: Json };
    // Go sorts map keys by bytes; for the ASCII keys of API objects that is code-unit order.
    return Object.fromEntries(
      Object.keys(o)
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
        .map((k) => [k, sortKeys(o[k]!)]),
    );
  }
  return value;
}

const goEscapes: Record<string, string> = {
  "<": "\\u003c",
  ">": "\\u003e",
  "&": "\\u0026",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029",
};

export function goJson(value: Json): string {
  // These characters can only occur inside strings, so a text replacement is exact.
  return (
    JSON.stringify(sortKeys(value), null, 4).replace(/[<>&\u2028\u2029]/g, (ch) => goEscapes[ch]!) + "\n"
  );
}

export function goYaml(value: Json): string {
  return stringify(sortKeys(value), { indentSeq: false, lineWidth: 0, sortMapEntries: true });
}
