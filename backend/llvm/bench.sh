#!/bin/sh
# bench.sh: median latency of pare's compiled executables (LLVM backend,
# host CPU) against ONNX Runtime with one thread, on the same machine.
# Env: BIN (pare), ORT_BENCH (bench.mjs), SHARED (shared folder), ITERS.
set -e
BIN=${BIN:-bin/pare}
SHARED=${SHARED:-../shared}
ITERS=${ITERS:-2000}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
go run ./backend/llvm/internal/mkmlp -o "$W/mlp.onnx"
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; ORT 1 thread; $ITERS iterations (conv nets: 200)"
printf '%-18s %12s %12s %8s\n' model pare_ms ort_ms pare/ort
for m in "$SHARED/models/onnx/mnist-7/mnist-7.onnx:3136" "$W/mlp.onnx:3136" \
	"$SHARED/models/onnx/light/light_squeezenet.onnx:602112" "$SHARED/models/onnx/light/light_resnet50.onnx:602112"; do
	f=${m%%:*}; n=${m##*:}
	name=$(basename "$f" .onnx)
	it=$ITERS
	case $name in light_*) it=200;; esac
	"$BIN" compile "$f" -emit exe -o "$W/$name" >/dev/null
	head -c "$n" /dev/zero > "$W/$name.in"
	p=$("$W/$name" --bench "$it" "$W/$name.in" | sed -n 's/.*"median_ms": \([0-9.]*\).*/\1/p')
	o=-
	if [ -n "$ORT_BENCH" ]; then
		o=$(node "$ORT_BENCH" "$f" --threads 1 --iters "$it" | sed -n 's/.*"median_ms": *\([0-9.]*\).*/\1/p')
	fi
	r=$(awk -v p="$p" -v o="$o" 'BEGIN { if (o + 0 > 0) printf "%.2f", p / o; else print "-" }')
	printf '%-18s %12s %12s %8s\n' "$name" "$p" "$o" "$r"
done
