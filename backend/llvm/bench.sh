#!/bin/sh
# bench.sh: median latency of pare's compiled executables (LLVM backend,
# host CPU) against ONNX Runtime with one thread, run side by side on the
# same machine; prints the ratio pare/ORT. int8 rows are pare's
# canonicalize,quantize,fuse calibrated on ramp images (ramp.py; there is no
# data set for the light models), compared with ORT f32 and with ORT running
# pare's QOperator export (QLinearConv / QLinearMatMul, ORT's u8s8 kernels).
# _int8pb rows quantize with quantize{pair-bound=true}: weights that let
# AVX2 targets without VNNI run their convs on vpmaddubsw.
# _p90s4 rows are pare's canonicalize,prune{ratio=0.9},share{bits=4}
# compiled with -weights compressed (sparse kernels) and, _dense, with
# -weights dense, against ORT running the unpruned model.
# Each figure is the lowest of ROUNDS medians, pare and ORT alternating, so
# that load from other processes on a shared machine weighs on both alike.
# Env: BIN (pare), ORT_BENCH (bench.mjs), SHARED (shared folder), ITERS,
# ROUNDS (default 3), MODELS (space-separated subset of the row names).
set -e
BIN=${BIN:-bin/pare}
SHARED=${SHARED:-../shared}
ITERS=${ITERS:-2000}
ROUNDS=${ROUNDS:-3}
HERE=$(dirname "$0")
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
go run ./backend/llvm/internal/mkmlp -o "$W/mlp.onnx"
O="$SHARED/models/onnx"
DIMS="--dim p2o.DynamicDimension.0=1 --dim p2o.DynamicDimension.1=640 --dim p2o.DynamicDimension.2=640"
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); ORT 1 thread; best of $ROUNDS medians"
printf '%-22s %7s %10s %10s %8s %12s %8s\n' model iters pare_ms ort_ms pare/ort ort_qop_ms pare/qop
med() { sed -n 's/.*"median_ms": *\([0-9.]*\).*/\1/p'; }
lower() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || a == "-") print b; else if (b == "" || b == "-" || a + 0 <= b + 0) print a; else print b }'; }
ratio() { awk -v p="$1" -v o="$2" 'BEGIN { if (o + 0 > 0 && p + 0 > 0) printf "%.2f", p / o; else print "-" }'; }
# row NAME MODEL ITERS INBYTES [pare compile flags] -- [ort flags]
row() {
	name=$1 f=$2 it=$3 n=$4
	shift 4
	if [ -n "$MODELS" ] && ! echo " $MODELS " | grep -q " $name "; then return; fi
	pf="" of=""
	while [ $# -gt 0 ] && [ "$1" != -- ]; do pf="$pf $1"; shift; done
	[ $# -gt 0 ] && shift
	of="$*"
	src=$f q=""
	case $name in *_int8|*_int8pb)
		src="$W/$name.ir"
		qz=quantize
		case $name in *_int8pb) qz='quantize{pair-bound=true}' ;; esac
		cal="mnist:train" lim=256
		case $name in light_*) cal="$W/r224_x.npy:$W/r224_y.npy" lim=4;; ppocr*) cal="$W/r640_x.npy:$W/r640_y.npy" lim=2;; esac
		"$BIN" opt "$f" -passes "canonicalize,$qz,fuse" --calib "$cal" -limit "$lim" $pf -o "$src" >/dev/null 2>&1 || { printf '%-22s %s\n' "$name" "pare opt failed"; return; }
		pf=""
		"$BIN" export "$src" -o "$W/$name.q.onnx" --form qoperator >/dev/null 2>&1 && q="$W/$name.q.onnx" ;;
	esac
	case $name in *_p90s4|*_p90s4_dense)
		src="$W/$name.ir"
		"$BIN" opt "$f" -passes 'canonicalize,prune{ratio=0.9},share{bits=4}' -o "$src" >/dev/null 2>&1 || { printf '%-22s %s\n' "$name" "pare opt failed"; return; }
		case $name in *_dense) pf="$pf -weights dense" ;; *) pf="$pf -weights compressed" ;; esac ;;
	esac
	if ! "$BIN" compile "$src" $pf -emit exe -o "$W/$name" >/dev/null 2>"$W/err"; then
		printf '%-22s %s\n' "$name" "not compiled: $(head -c 120 "$W/err")"
		return
	fi
	head -c "$n" /dev/zero > "$W/$name.in"
	p=- o=- qo=-
	for r in $(seq "$ROUNDS"); do
		p=$(lower "$p" "$("$W/$name" --bench "$it" "$W/$name.in" "$W/$name.out" | med)")
		if [ -n "$ORT_BENCH" ]; then
			o=$(lower "$o" "$(node "$ORT_BENCH" "$f" --threads 1 --iters "$it" $of 2>/dev/null | med)")
			[ -n "$q" ] && qo=$(lower "$qo" "$(node "$ORT_BENCH" "$q" --threads 1 --iters "$it" $of 2>/dev/null | med)")
		fi
	done
	printf '%-22s %7s %10s %10s %8s %12s %8s\n' "$name" "$it" "$p" "$o" "$(ratio "$p" "$o")" "$qo" "$(ratio "$p" "$qo")"
}
python3 "$HERE/ramp.py" 4 3 224 224 "$W/r224"
python3 "$HERE/ramp.py" 2 3 640 640 "$W/r640"
BIG=$((ITERS / 100 + 5))
row mnist-7 "$O/mnist-7/mnist-7.onnx" "$ITERS" 3136
row mlp "$W/mlp.onnx" "$ITERS" 3136
row light_squeezenet "$O/light/light_squeezenet.onnx" "$BIG" 602112
row light_resnet50 "$O/light/light_resnet50.onnx" "$BIG" 602112
row ppocr_det_640 "$O/ppocr/ch_PP-OCRv4_det_infer.onnx" "$BIG" 4915200 --shape x=1x3x640x640 -- $DIMS
row mnist-7_p90s4 "$O/mnist-7/mnist-7.onnx" "$ITERS" 3136
row mnist-7_p90s4_dense "$O/mnist-7/mnist-7.onnx" "$ITERS" 3136
row mnist-7_int8 "$O/mnist-7/mnist-7.onnx" "$ITERS" 3136
row mlp_int8 "$W/mlp.onnx" "$ITERS" 3136
row light_squeezenet_int8 "$O/light/light_squeezenet.onnx" "$BIG" 602112
row light_resnet50_int8 "$O/light/light_resnet50.onnx" "$BIG" 602112
row ppocr_det_640_int8 "$O/ppocr/ch_PP-OCRv4_det_infer.onnx" "$BIG" 4915200 --shape x=1x3x640x640 -- $DIMS
row mnist-7_int8pb "$O/mnist-7/mnist-7.onnx" "$ITERS" 3136
row light_squeezenet_int8pb "$O/light/light_squeezenet.onnx" "$BIG" 602112
row light_resnet50_int8pb "$O/light/light_resnet50.onnx" "$BIG" 602112
row ppocr_det_640_int8pb "$O/ppocr/ch_PP-OCRv4_det_infer.onnx" "$BIG" 4915200 --shape x=1x3x640x640 -- $DIMS
