// run.mjs runs a TFLite model in LiteRT.js (Google's TFLite runtime for the
// web, npm @litertjs/core, CPU: XNNPack in WebAssembly) under Node.js, as an
// independent reference for pare's TFLite frontend and rt.
//
//   node tests/litert/run.mjs MODEL.tflite [IN0.npy IN1.npy ...] --out DIR [--litert DIR]
//   node tests/litert/run.mjs --batch JOBS.json [--litert DIR]
//
// --batch runs many models in one process (the WebAssembly module loads
// once): JOBS.json is an array of {"model", "inputs": [...], "out"}, and
// each job prints its JSON line ({"model", "error"} when it fails).
//
// Inputs are .npy files (f32, u8, i8, i16, i32, i64, bool) in the order of
// the model's subgraph inputs; outputs are written as DIR/output_K.npy in
// the order of the subgraph outputs. A JSON line on stdout names the inputs
// and outputs, their types and shapes, and the model patches applied.
//
// LiteRT.js is a browser package; three things make it run in Node, none of
// which touches its kernels:
//   - its loader fetches the Emscripten glue with importScripts(); we
//     provide one that evaluates the file with require and __dirname set;
//   - its JS wrapper knows only float32, int32 and uint8 tensors; we load a
//     copy of the wrapper whose dtype table also lists int8, int16, int64
//     and bool (the wasm core handles them);
//   - the compiled model rejects a buffer of shape [1,1] for an input whose
//     shape_signature is [-1,1]; we give every -1 of shape_signature the
//     value of shape. TFLite's full interpreter also rejects per-channel
//     parameters whose quantized_dimension is outside the tensor's rank
//     (TOCO wrote quantized_dimension 3 on the 1-D biases of depthwise
//     convolutions, which TFLite Micro accepts); such a 1-D tensor gets 0.
// Both patches are made on a copy of the model's bytes and are listed in
// the JSON line.
//
// `make litert` installs the pinned package into .cache/litert, the
// default for --litert (or $PARE_LITERT_DIR).

import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import {createRequire} from 'node:module';
import {fileURLToPath, pathToFileURL} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

function usage(msg) {
  if (msg) console.error('run.mjs: ' + msg);
  console.error('usage: node run.mjs MODEL.tflite [IN.npy ...] --out DIR [--litert DIR]');
  console.error('       node run.mjs --batch JOBS.json [--litert DIR]   (JOBS: [{"model", "inputs": [...], "out"}])');
  process.exit(2);
}

const args = process.argv.slice(2);
let outDir = '', batchFile = '', litertDir = process.env.PARE_LITERT_DIR || path.resolve(here, '../../.cache/litert');
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--out') outDir = args[++i];
  else if (args[i] === '--litert') litertDir = args[++i];
  else if (args[i] === '--batch') batchFile = args[++i];
  else if (args[i].startsWith('--')) usage('unknown flag ' + args[i]);
  else files.push(args[i]);
}
if (!batchFile && (files.length < 1 || !outDir)) usage();
const [modelPath, ...inputPaths] = files;

// ---- .npy ----

const npyTypes = {
  '<f4': {dtype: 'float32', ctor: Float32Array},
  '|u1': {dtype: 'uint8', ctor: Uint8Array},
  '|i1': {dtype: 'int8', ctor: Int8Array},
  '<i2': {dtype: 'int16', ctor: Int16Array},
  '<i4': {dtype: 'int32', ctor: Int32Array},
  '<i8': {dtype: 'int64', ctor: BigInt64Array},
  '|b1': {dtype: 'bool', ctor: Uint8Array},
};
const descrOf = Object.fromEntries(Object.entries(npyTypes).map(([k, v]) => [v.dtype, k]));

function readNpy(file) {
  const b = fs.readFileSync(file);
  if (b.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = b[6];
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const off = major === 1 ? 10 : 12;
  const hdr = b.toString('latin1', off, off + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(hdr)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(hdr)?.[1];
  if (/'fortran_order':\s*True/.test(hdr)) throw new Error(`${file}: Fortran order is not supported`);
  const t = npyTypes[descr];
  if (!t || shapeText === undefined) throw new Error(`${file}: unsupported header ${hdr.trim()}`);
  const shape = shapeText.split(',').map(s => s.trim()).filter(s => s).map(Number);
  const n = shape.reduce((a, d) => a * d, 1);
  const body = b.subarray(off + hlen);
  if (body.length !== n * t.ctor.BYTES_PER_ELEMENT) throw new Error(`${file}: ${body.length} data bytes for shape [${shape}]`);
  const copy = new Uint8Array(body); // aligned
  return {dtype: t.dtype, shape, data: new t.ctor(copy.buffer, 0, n)};
}

function writeNpy(file, dtype, shape, data) {
  const descr = descrOf[dtype];
  if (!descr) throw new Error(`cannot write dtype ${dtype}`);
  const s = shape.join(', ') + (shape.length === 1 ? ',' : '');
  let hdr = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${s}), }`;
  hdr += ' '.repeat((64 - (10 + hdr.length + 1) % 64) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY\x01\x00', 0, 'latin1');
  head.writeUInt16LE(hdr.length, 8);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(hdr, 'latin1'),
    Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

// ---- the model's flatbuffer: just what the patches and the I/O order need ----

function fb(bytes) {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const field = (t, k) => { // absolute position of field k of the table at t, or 0
    const vt = t - v.getInt32(t, true);
    if (4 + 2 * k >= v.getUint16(vt, true)) return 0;
    const o = v.getUint16(vt + 4 + 2 * k, true);
    return o ? t + o : 0;
  };
  const ref = (t, k) => { const p = field(t, k); return p ? p + v.getUint32(p, true) : 0; };
  const vec = (t, k) => { // [position of element 0, length]
    const p = ref(t, k);
    return p ? [p + 4, v.getUint32(p, true)] : [0, 0];
  };
  const tables = (t, k) => { const [p, n] = vec(t, k); return Array.from({length: n}, (_, i) => p + 4 * i + v.getUint32(p + 4 * i, true)); };
  const ints = (t, k) => { const [p, n] = vec(t, k); return Array.from({length: n}, (_, i) => v.getInt32(p + 4 * i, true)); };
  const str = (t, k) => { const p = ref(t, k); return p ? Buffer.from(bytes.buffer, bytes.byteOffset + p + 4, v.getUint32(p, true)).toString('utf8') : ''; };
  const u32 = (t, k) => { const p = field(t, k); return p ? v.getUint32(p, true) : 0; };
  return {v, field, ref, vec, tables, ints, str, u32, root: v.getUint32(0, true)};
}

// patchModel fixes, in place, what LiteRT's compiled model rejects (see the
// top of the file) and returns the list of patches and the subgraph's I/O.
function patchModel(bytes) {
  const f = fb(bytes);
  const patches = [];
  const sg = f.tables(f.root, 2)[0];
  const tensors = f.tables(sg, 0);
  tensors.forEach((t, i) => {
    const shape = f.ints(t, 0);
    const [sp, sn] = f.vec(t, 7);
    for (let d = 0; d < sn && sn === shape.length; d++) {
      if (f.v.getInt32(sp + 4 * d, true) < 0) {
        f.v.setInt32(sp + 4 * d, shape[d], true);
        patches.push(`tensor ${i} "${f.str(t, 3)}": shape_signature[${d}] -1 -> ${shape[d]}`);
      }
    }
    const q = f.ref(t, 4);
    const qd = q ? f.field(q, 6) : 0;
    if (qd && shape.length === 1 && f.v.getInt32(qd, true) !== 0) {
      patches.push(`tensor ${i} "${f.str(t, 3)}": quantized_dimension ${f.v.getInt32(qd, true)} -> 0 (rank 1)`);
      f.v.setInt32(qd, 0, true);
    }
  });
  const inputs = f.ints(sg, 1), outputs = f.ints(sg, 2);
  const nameOf = i => f.str(tensors[i], 3);
  // Signature names, when the model has a signature for subgraph 0. A
  // signature output that is no longer among the subgraph's outputs (the
  // Go test's bisection retargets outputs[0] to an inner tensor) is given
  // the one subgraph output no signature entry names.
  const sigIn = new Map(), sigOut = new Map();
  for (const s of f.tables(f.root, 7)) {
    if (f.u32(s, 4) !== 0) continue; // subgraph_index
    for (const m of f.tables(s, 0)) sigIn.set(f.str(m, 0), f.u32(m, 1));
    const maps = f.tables(s, 1);
    const named = new Set(maps.map(m => f.u32(m, 1)));
    const free = outputs.filter(o => !named.has(o));
    for (const m of maps) {
      let ti = f.u32(m, 1);
      if (!outputs.includes(ti) && free.length === 1 && f.field(m, 1)) {
        patches.push(`signature output "${f.str(m, 0)}": tensor ${ti} -> ${free[0]} (the subgraph's output)`);
        ti = free[0];
        f.v.setUint32(f.field(m, 1), ti, true);
      }
      sigOut.set(f.str(m, 0), ti);
    }
    break;
  }
  return {patches, inputs, outputs, nameOf, sigIn, sigOut};
}

// position maps a LiteRT tensor name to its index in list (the subgraph's
// inputs or outputs), through the signature's names or the tensors' names.
function position(name, list, sig, nameOf) {
  if (sig.has(name)) return list.indexOf(sig.get(name));
  return list.findIndex(i => nameOf(i) === name);
}

// ---- LiteRT.js in Node ----

async function loadLiteRt() {
  const core = path.join(litertDir, 'node_modules', '@litertjs', 'core');
  if (!fs.existsSync(path.join(core, 'dist', 'index.js'))) {
    console.error(`run.mjs: @litertjs/core not found under ${litertDir} (make litert)`);
    process.exit(3);
  }
  // The wrapper with a wider dtype table, written beside the original so
  // that its import of @litertjs/wasm-utils resolves the same way.
  const src = fs.readFileSync(path.join(core, 'dist', 'index.js'), 'utf8');
  const anchor = 'var DATATYPES = Object.freeze([';
  if (!src.includes(anchor)) throw new Error('@litertjs/core: dtype table not found; the pinned version is 2.5.3');
  const extra = [
    '{dtype: "int8", typedArrayConstructor: Int8Array, elementType: ElementType.INT8},',
    '{dtype: "int16", typedArrayConstructor: Int16Array, elementType: ElementType.INT16},',
    '{dtype: "int64", typedArrayConstructor: BigInt64Array, elementType: ElementType.INT64},',
  ].join('\n');
  // Appended after the three built-in rows: "bool" shares Uint8Array with
  // uint8, so it is matched by element type only (getDataType's first match
  // for a Uint8Array stays uint8).
  const patched = src.replace(/(var DATATYPES = Object\.freeze\(\[[\s\S]*?)(\]\);)/,
    (_, rows, end) => `${rows},\n${extra}\n{dtype: "bool", typedArrayConstructor: Uint8Array, elementType: ElementType.BOOL}\n${end}`);
  const patchedFile = path.join(core, 'dist', 'index.pare.mjs');
  if (!fs.existsSync(patchedFile) || fs.readFileSync(patchedFile, 'utf8') !== patched) {
    // Atomically: tests start several of these processes at once.
    const tmp = `${patchedFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, patched);
    fs.renameSync(tmp, patchedFile);
  }

  const req = createRequire(path.join(core, 'package.json'));
  globalThis.self = globalThis;
  globalThis.importScripts = (file) => {
    const code = fs.readFileSync(file, 'utf8');
    // The glue defines `var ModuleFactory` at top level: run it as a
    // script in this context, with what its Node branch expects.
    globalThis.require = req;
    globalThis.__dirname = path.dirname(file);
    globalThis.__filename = file;
    vm.runInThisContext(code, {filename: file});
  };
  // (The runtime's INFO lines go to stderr; stdout carries the JSON reports.)
  const lr = await import(pathToFileURL(patchedFile).href);
  await lr.loadLiteRt(path.join(core, 'wasm') + '/');
  return lr;
}

// ---- main ----

const quiet = (fn) => async (...a) => {
  const log = console.log, warn = console.warn;
  console.log = (...m) => console.error(...m); // stdout carries only the JSON line
  console.warn = (...m) => { if (!String(m[0]).includes('WebGPU')) console.error(...m); };
  try { return await fn(...a); } finally { console.log = log; console.warn = warn; }
};

// runJob runs one model on .npy inputs and writes its outputs to outDir;
// it returns the report printed as one JSON line.
async function runJob(lr, modelPath, inputPaths, outDir) {
  const bytes = new Uint8Array(fs.readFileSync(modelPath));
  const info = patchModel(bytes);
  const model = await lr.loadAndCompile(bytes, {accelerator: 'wasm', cpuOptions: {numThreads: 1}});
  try {
    const inDetails = model.getInputDetails(), outDetails = model.getOutputDetails();
    if (inputPaths.length !== inDetails.length) {
      throw new Error(`${modelPath}: ${inDetails.length} inputs, ${inputPaths.length} .npy files given`);
    }
    const feeds = inDetails.map(d => {
      const k = position(d.name, info.inputs, info.sigIn, info.nameOf);
      if (k < 0) throw new Error(`input "${d.name}" is not among the subgraph's inputs`);
      const x = readNpy(inputPaths[k]);
      if (x.dtype !== d.dtype) throw new Error(`input ${k} "${d.name}": ${d.dtype} expected, ${inputPaths[k]} is ${x.dtype}`);
      return new lr.Tensor(x.data, x.shape);
    });
    const results = await model.run(feeds);
    feeds.forEach(x => x.delete());
    fs.mkdirSync(outDir, {recursive: true});
    const outs = [];
    for (let j = 0; j < results.length; j++) {
      const d = outDetails[j];
      const k = position(d.name, info.outputs, info.sigOut, info.nameOf);
      if (k < 0) throw new Error(`output "${d.name}" is not among the subgraph's outputs`);
      const t = results[j].accelerator === 'wasm' ? results[j] : await results[j].moveTo('wasm');
      const shape = t.type.layout.dimensions;
      writeNpy(path.join(outDir, `output_${k}.npy`), t.type.dtype, shape, t.toTypedArray());
      outs.push({index: k, name: d.name, dtype: t.type.dtype, shape});
      t.delete();
    }
    outs.sort((a, b) => a.index - b.index);
    const ins = inDetails.map(d => ({index: position(d.name, info.inputs, info.sigIn, info.nameOf), name: d.name, dtype: d.dtype, shape: Array.from(d.shape)}));
    ins.sort((a, b) => a.index - b.index);
    return {model: modelPath, inputs: ins, outputs: outs, patches: info.patches};
  } finally {
    model.delete();
  }
}

await quiet(async () => {
  const lr = await loadLiteRt();
  if (batchFile) {
    // One job per element of the JSON array: {model, inputs: [...], out}.
    // A failing job reports {model, error} and the others still run.
    for (const job of JSON.parse(fs.readFileSync(batchFile, 'utf8'))) {
      let rep;
      try {
        rep = await runJob(lr, job.model, job.inputs ?? [], job.out);
      } catch (e) {
        rep = {model: job.model, error: String(e.message ?? e)};
      }
      process.stdout.write(JSON.stringify(rep) + '\n');
    }
    return;
  }
  process.stdout.write(JSON.stringify(await runJob(lr, modelPath, inputPaths, outDir)) + '\n');
})().catch(e => { console.error(`run.mjs: ${e.message ?? e}`); process.exit(1); });
