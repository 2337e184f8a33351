package dataset

import (
	"fmt"
	"os"
	"path/filepath"
)

// Fashion-MNIST (Zalando), in the IDX format of MNIST, from Debian's
// dataset-fashion-mnist package (`apt-get install dataset-fashion-mnist`)
// or $PARE_FASHION_MNIST_DIR.

// fashionDirs are where the Debian package installs the IDX files.
var fashionDirs = []string{"/usr/share/datasets/fashion-mnist", "/usr/share/dataset-fashion-mnist"}

// FashionMNISTDir finds the folder holding the Fashion-MNIST IDX files.
func FashionMNISTDir() (string, error) {
	dirs := fashionDirs
	if d := os.Getenv("PARE_FASHION_MNIST_DIR"); d != "" {
		dirs = []string{d}
	}
	for _, d := range dirs {
		if m, _ := filepath.Glob(filepath.Join(d, "t10k-labels-idx1-ubyte*")); len(m) > 0 {
			return d, nil
		}
		if m, _ := filepath.Glob(filepath.Join(d, "*", "t10k-labels-idx1-ubyte*")); len(m) > 0 {
			return filepath.Dir(m[0]), nil
		}
	}
	return "", fmt.Errorf("Fashion-MNIST not found in %v: apt-get install dataset-fashion-mnist, or set PARE_FASHION_MNIST_DIR", dirs)
}

// FashionMNIST loads the "train" (60,000) or "test" (10,000) split.
func FashionMNIST(split string) (*Set, error) {
	dir, err := FashionMNISTDir()
	if err != nil {
		return nil, err
	}
	return LoadIDX(dir, split, "fashion-mnist:"+split)
}
