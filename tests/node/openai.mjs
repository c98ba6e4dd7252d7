// The openai Node SDK against the fake: images.generate (JSON), images.edit (multipart), and its error classes.
import OpenAI, { toFile } from "openai";

import { baseURL, images, main, mask, pngSize, token } from "./common.mjs";

const GPT = "openai/gpt-image-1";
const client = (apiKey = token) => new OpenAI({ apiKey, baseURL, maxRetries: 0 });

function summary(response) {
  return {
    count: response.data.length,
    sizes: response.data.map((item) => pngSize(Buffer.from(item.b64_json, "base64"))),
    size: response.size,
    provider: response.provider,
    cost: response.cost,
  };
}

async function failure(call) {
  try {
    await call();
  } catch (err) {
    return {
      class: err.constructor.name,
      isAPIError: err instanceof OpenAI.APIError,
      status: err.status ?? null,
      message: err.message,
      error: err.error ?? null,
    };
  }
  throw new Error("the call did not fail");
}

const files = async () => Promise.all(images().map((data, i) => toFile(data, `image-${i}.png`, { type: "image/png" })));

await main({
  generate: async () => summary(await client().images.generate({ model: GPT, prompt: "a red fox", n: 2, size: "1024x1024" })),
  "edit-one": async () => {
    const [image] = await files();
    return summary(await client().images.edit({ model: GPT, image, prompt: "add a hat" }));
  },
  "edit-several-masked": async () => {
    const image = await files();
    const m = await toFile(mask(), "mask.png", { type: "image/png" });
    return summary(await client().images.edit({ model: GPT, image, mask: m, prompt: "merge them", n: 2 }));
  },
  models: async () => {
    const ids = [];
    for await (const model of client().models.list()) {
      ids.push(model.id);
    }
    return { ids };
  },
  "error-model": () => failure(() => client().images.generate({ model: "nobody/nothing", prompt: "x" })),
  "error-auth": () => failure(() => client("not-the-token").images.generate({ model: GPT, prompt: "x" })),
  "error-unavailable": () => failure(() => client().images.generate({ model: GPT, prompt: "unavailable" })),
  "error-rate-limited": () => failure(() => client().images.generate({ model: GPT, prompt: "rate-limited" })),
});
