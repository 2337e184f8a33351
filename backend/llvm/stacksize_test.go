package llvm

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pare-ml/pare/codegen"
	"github.com/pare-ml/pare/codegen/codegentest"
	pir "github.com/pare-ml/pare/ir"
)

// TestStackSize: the header's NAME_STACK_SIZE is the driver's frame plus
// the largest kernel's, from the object's .stack_sizes; NAME_run called on
// a thread whose stack is that size (and a margin for the thread itself)
// gives the results it gives on the main thread. The pointwise conv of
// K = 512 packs its B panels on the stack on AVX2 hosts (tens of KB).
func TestStackSize(t *testing.T) {
	needTools(t)
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not found")
	}
	host, err := HostTarget()
	if err != nil {
		t.Skip(err)
	}
	g, _ := casesGraph(t, []codegentest.IntCase{
		codegentest.IntConvCase("wide", pir.U8, []int{1, 512, 8, 8}, []int{64, 512, 1, 1}, nil, false)})
	p, err := codegen.Lower(g)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	a, err := BuildObj(p, host, filepath.Join(dir, p.Name))
	if err != nil {
		t.Fatal(err)
	}
	sizes, err := stackSizes(a.Obj)
	if err != nil {
		t.Fatal(err)
	}
	var driver, kernel uint64
	for name, s := range sizes {
		if strings.HasPrefix(name, p.Name+"_run") {
			driver = max(driver, s)
		} else {
			kernel = max(kernel, s)
		}
	}
	if driver == 0 || kernel == 0 || a.Stack < driver+kernel {
		t.Fatalf("stack %d, frames %v: want the driver's and the largest kernel's", a.Stack, sizes)
	}
	if host.hasAVX2() && kernel < 32<<10 {
		t.Errorf("the pointwise conv's frame is %d bytes, want its B panels (tens of KB) counted", kernel)
	}
	h, err := os.ReadFile(a.Header)
	if err != nil {
		t.Fatal(err)
	}
	up := strings.ToUpper(p.Name)
	if !strings.Contains(string(h), fmt.Sprintf("#define %s_STACK_SIZE %d\n", up, a.Stack)) {
		t.Fatalf("header has no %s_STACK_SIZE %d:\n%s", up, a.Stack, h)
	}
	c := `#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "` + p.Name + `.h"
static uint8_t in[` + up + `_IN0_COUNT], a[` + up + `_OUT0_COUNT], b[` + up + `_OUT0_COUNT];
static int rc;
static void *call(void *arg) { rc = ` + p.Name + `_run(in, b); return 0; }
int main(void) {
	for (int i = 0; i < ` + up + `_IN0_COUNT; i++) in[i] = (uint8_t)(i * 37 + 11);
	if (` + p.Name + `_run(in, a)) return 2;
	pthread_attr_t at;
	pthread_t th;
	pthread_attr_init(&at);
	/* the thread's own needs (TLS, libc) beside the model's */
	if (pthread_attr_setstacksize(&at, ` + up + `_STACK_SIZE + 32768)) return 3;
	if (pthread_create(&th, &at, call, 0)) return 4;
	pthread_join(th, 0);
	printf("%d %d\n", rc, memcmp(a, b, sizeof a) == 0);
	return 0;
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.c"), []byte(c), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "main")
	if out, err := exec.Command("gcc", "-I", dir, "-o", exe, filepath.Join(dir, "main.c"), a.Obj, "-lm", "-lpthread").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	out, err := exec.Command(exe).CombinedOutput()
	if err != nil || string(out) != "0 1\n" {
		t.Fatalf("NAME_run on a thread of %d + 32768 bytes of stack: %v %q, want \"0 1\"", a.Stack, err, out)
	}
	t.Logf("stack %d bytes (run %d, largest kernel %d)", a.Stack, driver, kernel)
}
