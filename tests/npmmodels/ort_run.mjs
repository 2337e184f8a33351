// node ort_run.mjs MODEL OUTDIR NAME=FILE.npy ...: runs ONNX Runtime (onnxruntime-node, from
// the folder in $PARE_ORT_DIR or beside this script) on .npy inputs and writes
// OUTDIR/outI.npy for the I-th output, in the model's order.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const ort = require(require.resolve('onnxruntime-node', { paths: [process.env.PARE_ORT_DIR || '.'] }));
function readNpy(p) {
  const b = readFileSync(p);
  const hl = b.readUInt16LE(8);
  const h = b.slice(10, 10 + hl).toString();
  const descr = /'descr': '([^']+)'/.exec(h)[1];
  const shape = /'shape': \(([^)]*)\)/.exec(h)[1].split(',').map(s => s.trim()).filter(s => s).map(Number);
  const data = b.slice(10 + hl);
  const ab = data.buffer.slice(data.byteOffset, data.byteOffset + data.length);
  const m = { '<f4': ['float32', Float32Array], '<i8': ['int64', BigInt64Array], '|u1': ['uint8', Uint8Array], '|i1': ['int8', Int8Array], '<i4': ['int32', Int32Array] }[descr];
  return new ort.Tensor(m[0], new m[1](ab), shape);
}
function writeNpy(p, t) {
  const descr = { float32: '<f4', int64: '<i8', uint8: '|u1', int8: '|i1', int32: '<i4', bool: '|b1' }[t.type];
  let h = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${t.dims.join(', ')}${t.dims.length == 1 ? ',' : ''}), }`;
  while ((10 + h.length + 1) % 64) h += ' ';
  h += '\n';
  const head = Buffer.alloc(10); head.write('\x93NUMPY', 0, 'latin1'); head[6] = 1; head[7] = 0; head.writeUInt16LE(h.length, 8);
  const d = t.data; const body = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  writeFileSync(p, Buffer.concat([head, Buffer.from(h, 'latin1'), body]));
}
const [model, outdir, ...ins] = process.argv.slice(2);
const feeds = {};
for (const a of ins) { const i = a.indexOf('='); feeds[a.slice(0, i)] = readNpy(a.slice(i + 1)); }
const s = await ort.InferenceSession.create(model, { intraOpNumThreads: 1 });
const out = await s.run(feeds);
s.outputNames.forEach((k, i) => { const v = out[k]; writeNpy(`${outdir}/out${i}.npy`, v); console.log(k, v.dims.join('x'), v.type); });
