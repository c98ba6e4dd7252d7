// What the client scripts share: the fake's address and token from the environment, the images the Python test
// wrote, and the one JSON line each script prints.
import { readFileSync } from "node:fs";

export const baseURL = need("EDENFAKE_BASE_URL");
export const token = need("EDENFAKE_TOKEN");

function need(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run this script from tests/test_clients_node.py`);
  }
  return value;
}

/** The paths in EDENFAKE_IMAGES (comma-separated), read. */
export function images() {
  return (process.env.EDENFAKE_IMAGES ?? "").split(",").filter(Boolean).map((p) => readFileSync(p));
}

/** The mask file named by EDENFAKE_MASK, read (undefined when unset). */
export function mask() {
  return process.env.EDENFAKE_MASK ? readFileSync(process.env.EDENFAKE_MASK) : undefined;
}

/** A PNG's width and height, from its IHDR chunk (bytes 16..24); null for anything that is not a PNG. */
export function pngSize(bytes) {
  const data = Buffer.from(bytes);
  if (data.length < 24 || data.toString("latin1", 1, 4) !== "PNG") {
    return null;
  }
  return [data.readUInt32BE(16), data.readUInt32BE(20)];
}

/** Run the scenarios named on the command line, in order, and print their results as one JSON line: an object
 * from each scenario's name to what it returned. */
export async function main(scenarios) {
  const names = process.argv.slice(2);
  const unknown = names.filter((name) => !(name in scenarios));
  if (names.length === 0 || unknown.length > 0) {
    throw new Error(`unknown scenario(s) ${JSON.stringify(unknown)}; name some of ${Object.keys(scenarios).join(", ")}`);
  }
  const results = {};
  for (const name of names) {
    results[name] = await scenarios[name]();
  }
  process.stdout.write(JSON.stringify(results) + "\n");
}
