// The Vercel AI SDK (ai + @ai-sdk/openai-compatible) against the fake: generateImage, its edit path, its errors.
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { APICallError, generateImage } from "ai";

import { baseURL, images, main, mask, pngSize, token } from "./common.mjs";

const eden = createOpenAICompatible({ name: "eden", baseURL, apiKey: token });

function summary(result) {
  return {
    count: result.images.length,
    sizes: result.images.map((image) => pngSize(image.uint8Array)),
    mediaTypes: result.images.map((image) => image.mediaType),
    warnings: result.warnings,
  };
}

async function failure(call) {
  try {
    await call();
  } catch (err) {
    return {
      class: err.constructor.name,
      isAPICallError: APICallError.isInstance(err),
      status: err.statusCode ?? null,
      message: err.message,
      responseBody: err.responseBody ?? null,
      isRetryable: err.isRetryable ?? null,
    };
  }
  throw new Error("the call did not fail");
}

const model = (id) => eden.imageModel(id);

await main({
  generate: async () =>
    summary(await generateImage({ model: model("openai/gpt-image-1"), prompt: "a red fox", n: 2, size: "1024x1024", maxRetries: 0 })),
  "generate-dall-e-3": async () =>
    summary(await generateImage({ model: model("openai/dall-e-3"), prompt: "a red fox", size: "1024x1024", maxRetries: 0 })),
  "edit-one": async () => {
    const [image] = images();
    return summary(await generateImage({ model: model("openai/gpt-image-1"), prompt: { text: "add a hat", images: [image] }, maxRetries: 0 }));
  },
  "edit-several-masked": async () =>
    summary(
      await generateImage({
        model: model("openai/gpt-image-1"),
        prompt: { text: "merge them", images: images(), mask: mask() },
        maxRetries: 0,
      }),
    ),
  "error-model": () => failure(() => generateImage({ model: model("nobody/nothing"), prompt: "x", maxRetries: 0 })),
  "error-unavailable": () =>
    failure(() => generateImage({ model: model("openai/gpt-image-1"), prompt: "unavailable", maxRetries: 0 })),
  "error-rate-limited": () =>
    failure(() => generateImage({ model: model("openai/gpt-image-1"), prompt: "rate-limited", maxRetries: 0 })),
});
