package passes

import (
	"strings"
	"testing"
)

func TestParseSpec(t *testing.T) {
	ok := []struct{ spec, canon string }{
		{"canonicalize", "canonicalize"},
		{"canonicalize,quantize{w=int8,a=int8,calib=percentile:99.99},fuse", "canonicalize,quantize{w=int8,a=int8,calib=percentile:99.99},fuse"},
		{" canonicalize , quantize{ keep=conv1,conv2 , per-tensor } ", "canonicalize,quantize{keep=conv1,conv2,per-tensor=true}"},
		{"fuse{requant}", "fuse{requant=true}"},
		{"quantize{rq=fixed,budget=0.5}", "quantize{rq=fixed,budget=0.5}"},
	}
	for _, c := range ok {
		pl, err := Parse(c.spec)
		if err != nil {
			t.Errorf("%s: %v", c.spec, err)
			continue
		}
		if pl.String() != c.canon {
			t.Errorf("%s: canonical %q, want %q", c.spec, pl.String(), c.canon)
		}
	}
	bad := []struct{ spec, want string }{
		{"", "empty pipeline"},
		{"canonicalise", "unknown pass \"canonicalise\" (passes: qdq, canonicalize, prune, lowrank, quantize, share, sparse, distill, fuse)"},
		{"quantize{bits=4}", "unknown option \"bits\" (options: w, a, scheme, per-tensor, pair-bound, calib"},
		{"quantize{calib=kl}", "calib: \"kl\" (want one of minmax, percentile:P, entropy, mse)"},
		{"quantize{calib=percentile:20}", "P must be in (50, 100]"},
		{"quantize{budget=x}", "not a number"},
		{"quantize{a=int8,a=uint8}", "given twice"},
		{"quantize{a}", "needs a value"},
		{"fuse,quantize", "fuse must run after quantize"},
		{"quantize,canonicalize", "must run after canonicalize"},
		{"fuse{", "not closed"},
		{"fuse,", "trailing ','"},
		{"fuse}x", "unbalanced"},
	}
	for _, c := range bad {
		_, err := Parse(c.spec)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want it to contain %q", c.spec, err, c.want)
		}
	}
}
