package main

import (
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pare-ml/pare/frontend/onnx"
	"github.com/pare-ml/pare/ir"
	"github.com/pare-ml/pare/passes"
	"github.com/pare-ml/pare/rt"
)

func init() {
	register(&command{
		name: "distill", args: "--teacher T --student S --data SPEC [--temperature 4] [--alpha 0.7] [--epochs N] [--lr LR] [--seed S] [--limit N] [--no-labels] [--test SPEC] -o OUT",
		summary: "train a student model on a teacher's soft labels (knowledge distillation)",
		detail: `The student learns the teacher's soft labels: T²·KL(softmax(teacher/T) ‖ softmax(student/T)),
blended with cross-entropy on the data's labels (alpha weights the soft term);
with --no-labels, or data without labels, from the teacher alone.
The student is either a compressed copy of the teacher (pare opt output after
prune / share / lowrank / quantize: pruned weights stay zero, shared weights
train their codebook entries, quantized graphs train through fake quantization
and keep their scales) or another architecture (ONNX, TFLite, IR) with the
same input and number of classes. Training: Adam, learning rate cosine-decayed
to 0, batch 64 in 4 shards, deterministic for a seed; a progress line per epoch.
OUT is written as IR (.ir) or ONNX (.onnx; QDQ form when quantized).`,
		flags: func(fs *flag.FlagSet) func([]string) error {
			var mf modelFlags
			mf.register(fs)
			teacher := fs.String("teacher", "", "teacher model `T`")
			student := fs.String("student", "", "student model `S`")
			out := fs.String("o", "", "output `OUT` (.ir or .onnx)")
			var df dataFlags
			df.register(fs, "data", "mnist:train")
			temp := fs.Float64("temperature", 4, "softmax temperature `T` of the soft labels")
			alpha := fs.Float64("alpha", 0.7, "weight of the soft term (1 - alpha: cross-entropy on labels)")
			epochs := fs.Int("epochs", 1, "passes over the data")
			lr := fs.Float64("lr", 2e-4, "Adam learning rate (cosine-decayed to 0)")
			seed := fs.Uint64("seed", 1, "shuffling seed")
			batch := fs.Int("batch", 64, "examples per step (4 shards)")
			noLabels := fs.Bool("no-labels", false, "learn from the teacher alone")
			test := fs.String("test", "", "evaluate the student after every epoch on `SPEC` (e.g. mnist)")
			return func(pos []string) error {
				if len(pos) != 0 || *teacher == "" || *student == "" || *out == "" {
					return fmt.Errorf("want --teacher T --student S -o OUT")
				}
				if *alpha < 0 || *alpha > 1 || *temp <= 0 {
					return fmt.Errorf("--alpha must be in [0, 1] and --temperature positive")
				}
				tg, err := mf.load(*teacher)
				if err != nil {
					return fmt.Errorf("teacher: %v", err)
				}
				sg, err := mf.load(*student)
				if err != nil {
					return fmt.Errorf("student: %v", err)
				}
				src := *student // input scale: the student's, else the teacher's
				if modelInputScale(src) == 0 {
					src = *teacher
				}
				data, err := df.load(src, sg, df.limit)
				if err != nil {
					return fmt.Errorf("--data: %v", err)
				}
				if len(data.Inputs) == 0 || data.Inputs[0][0].DType != ir.F32 {
					return fmt.Errorf("--data: training needs f32 inputs")
				}
				s, err := rt.Lift(sg)
				if err != nil {
					return fmt.Errorf("student: %v", err)
				}
				a := float32(*alpha)
				if a == 0 {
					a = 1e-9 // rt reads 0 as its default
				}
				cfg := rt.FineTuneConfig{Teacher: tg, Temperature: float32(*temp), Alpha: a, NoLabels: *noLabels,
					Epochs: *epochs, Batch: *batch, LR: float32(*lr), Seed: *seed, Log: stderr}
				if *test != "" {
					tf := df
					tf.spec, tf.limit = *test, 0
					td, err := tf.load(src, sg, 0)
					if err != nil {
						return fmt.Errorf("--test: %v", err)
					}
					cfg.Test = passes.DatasetExamples(td)
				}
				fmt.Fprintf(stderr, "distill: %d trainable tensors, %d examples, T=%g alpha=%g\n", len(s.Params), len(data.Inputs), *temp, *alpha)
				if _, err := rt.FineTune(s, passes.DatasetExamples(data), cfg); err != nil {
					return err
				}
				return writeModel(sg, *out, src)
			}
		},
	})
}

// writeModel writes g as IR or ONNX by the extension of path (src: the
// model it came from, for its input-scale metadata).
func writeModel(g *ir.Graph, path, src string) error {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".ir":
		return ir.WriteFile(path, g)
	case ".onnx":
		form := onnx.FormFloat
		for _, v := range g.Values {
			if !v.IsConst() && v.Type.DType.IsInt() && v.Type.Quant != nil {
				form = onnx.FormQDQ
			}
		}
		quant := form == onnx.FormQDQ
		if err := unfuseActs(g, func(v *ir.Value) bool { return !quant || v.Type.DType == ir.F32 }); err != nil {
			return err
		}
		opts := onnx.ExportOptions{Form: form}
		if s := modelInputScale(src); s != 0 {
			opts.Metadata = map[string]string{"pare.input_scale": strconv.FormatFloat(s, 'g', -1, 64)}
		}
		return onnx.ExportFileWith(g, path, opts)
	}
	return fmt.Errorf("%s: write .ir or .onnx", path)
}
