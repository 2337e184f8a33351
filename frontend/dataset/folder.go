package dataset

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/pare-ml/pare/ir"
)

// Image folders with labels: DIR/labels.txt with one "FILE LABEL" line per
// image (FILE relative to DIR; blank lines and # comments skipped), or one
// subfolder per class holding its images. A label is a class index when
// every label (or subfolder name) is an integer; otherwise the classes are
// the sorted distinct names and a label is its position among them.

// Folder lists the images of a labelled folder with their labels and the
// class names (nil when the labels are integers).
func Folder(dir string) (files []string, labels []int, classes []string, err error) {
	var names []string
	if f, err := os.Open(filepath.Join(dir, "labels.txt")); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			i := strings.LastIndexAny(line, " \t")
			if i < 0 {
				return nil, nil, nil, fmt.Errorf("%s/labels.txt:%d: want \"FILE LABEL\", got %q", dir, n, line)
			}
			files = append(files, filepath.Join(dir, strings.TrimSpace(line[:i])))
			names = append(names, line[i+1:])
		}
		if err := sc.Err(); err != nil {
			return nil, nil, nil, err
		}
	} else {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, nil, nil, err
		}
		for _, e := range ents { // ReadDir sorts by name
			if !e.IsDir() {
				continue
			}
			imgs, err := os.ReadDir(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, nil, nil, err
			}
			for _, im := range imgs {
				if im.IsDir() || !isImage(im.Name()) {
					continue
				}
				files = append(files, filepath.Join(dir, e.Name(), im.Name()))
				names = append(names, e.Name())
			}
		}
	}
	if len(files) == 0 {
		return nil, nil, nil, fmt.Errorf("%s: no labels.txt and no class subfolders with images", dir)
	}
	labels, classes = labelIndices(names)
	return files, labels, classes, nil
}

func isImage(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".png", ".jpg", ".jpeg", ".bmp":
		return true
	}
	return false
}

// labelIndices maps label strings to class indices: the integers
// themselves, or positions among the sorted distinct names.
func labelIndices(names []string) ([]int, []string) {
	labels := make([]int, len(names))
	numeric := true
	for i, n := range names {
		v, err := strconv.Atoi(n)
		if err != nil || v < 0 {
			numeric = false
			break
		}
		labels[i] = v
	}
	if numeric {
		return labels, nil
	}
	seen := map[string]bool{}
	var classes []string
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			classes = append(classes, n)
		}
	}
	sort.Strings(classes)
	idx := map[string]int{}
	for i, c := range classes {
		idx[c] = i
	}
	for i, n := range names {
		labels[i] = idx[n]
	}
	return labels, classes
}

// FolderTensors loads the first limit images (0: all) of a labelled folder
// as inputs of type t: decoded, resized bilinearly to t's image shape and
// converted by ImageTensor (pm for u8 / i8 inputs, pp for f32 ones).
func FolderTensors(dir string, t ir.Type, pm PixelMap, pp Preprocess, limit int) ([]*ir.Tensor, []int, error) {
	files, labels, _, err := Folder(dir)
	if err != nil {
		return nil, nil, err
	}
	if limit > 0 && limit < len(files) {
		files, labels = files[:limit], labels[:limit]
	}
	out := make([]*ir.Tensor, len(files))
	for i, f := range files {
		img, err := LoadImage(f)
		if err != nil {
			return nil, nil, err
		}
		if out[i], err = ImageTensor(img, t, pm, pp); err != nil {
			return nil, nil, fmt.Errorf("%s: %v", f, err)
		}
	}
	return out, labels, nil
}
