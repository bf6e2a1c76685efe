import {getLlama} from "node-llama-cpp";
import fs from "fs";
const toks = [1, 3+72, 3+101, 3+108, 3+108, 3+111, 3+32, 3+119, 3+111, 3+114, 3+108, 3+100];
const lines = fs.readFileSync("/tmp/cmp/skippy.jsonl", "utf8").trim().split("\n").map(JSON.parse);
const llama = await getLlama({gpu: false, build: "never"});
for (const ref of lines) {
  const model = await llama.loadModel({modelPath: ref.path, gpuLayers: 0});
  const ctx = await model.createContext({contextSize: 64, batchSize: 64, flashAttention: false, experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32"});
  const seq = ctx.getSequence();
  const input = toks.map(t => [t, {generateNext: {probabilities: true, options: {temperature: 1, topK: 0, topP: 1, minP: 0}}}]);
  const res = await seq.controlledEvaluate(input);
  let maxd = 0, agree = 0;
  for (let p = 0; p < toks.length; ++p) {
    const probs = res[p].next.probabilities;
    const mine = ref.probs[p];
    let am = 0, al = -1, bl = -1;
    for (let i = 0; i < mine.length; ++i) {
      const q = probs.get(i) ?? 0;
      maxd = Math.max(maxd, Math.abs(q - mine[i]));
      if (mine[i] > mine[am]) am = i;
    }
    for (const [t, q] of probs) if (q > bl) { bl = q; al = t; }
    agree += am === al;
  }
  console.log(`${ref.path}: max |p_llama.cpp - p_skippy| = ${maxd.toExponential(3)}, argmax agrees at ${agree}/${toks.length} positions`);
  await ctx.dispose(); await model.dispose();
}
