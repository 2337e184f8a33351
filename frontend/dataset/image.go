package dataset

import (
	"fmt"
	"image"
	_ "image/jpeg" // registers JPEG decoding
	_ "image/png"  // registers PNG decoding
	"math"
	"os"

	_ "golang.org/x/image/bmp" // registers BMP decoding

	"github.com/pare-ml/pare/ir"
)

// LoadImage decodes a PNG, JPEG or BMP file.
func LoadImage(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, format, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %v (PNG, JPEG and BMP are supported)", path, err)
	}
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 || b.Dx()*b.Dy() > 1<<28 {
		return nil, fmt.Errorf("%s: %s image of %dx%d pixels", path, format, b.Dx(), b.Dy())
	}
	return img, nil
}

// ResizeBilinear resizes img to w×h pixels of c channels (1: luma, 3: RGB),
// H×W×C bytes, with half-pixel centres (as TensorFlow's resize_bilinear with
// half_pixel_centers, and ONNX Resize linear/half_pixel).
func ResizeBilinear(img image.Image, w, h, c int) []uint8 {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	src := make([]float64, sw*sh*c)
	for y := 0; y < sh; y++ {
		for x := 0; x < sw; x++ {
			r, g, bb, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			i := (y*sw + x) * c
			if c == 1 {
				// ITU-R 601 luma, as image/color.GrayModel.
				src[i] = float64((19595*r + 38470*g + 7471*bb + 1<<15) >> 24)
			} else {
				src[i], src[i+1], src[i+2] = float64(r>>8), float64(g>>8), float64(bb>>8)
			}
		}
	}
	coord := func(o, in, out int) (int, int, float64) {
		f := (float64(o)+0.5)*float64(in)/float64(out) - 0.5
		f = max(f, 0)
		i0 := min(int(f), in-1)
		i1 := min(i0+1, in-1)
		return i0, i1, f - float64(i0)
	}
	out := make([]uint8, w*h*c)
	for y := 0; y < h; y++ {
		y0, y1, fy := coord(y, sh, h)
		for x := 0; x < w; x++ {
			x0, x1, fx := coord(x, sw, w)
			for k := 0; k < c; k++ {
				v := (src[(y0*sw+x0)*c+k]*(1-fx)+src[(y0*sw+x1)*c+k]*fx)*(1-fy) +
					(src[(y1*sw+x0)*c+k]*(1-fx)+src[(y1*sw+x1)*c+k]*fx)*fy
				out[(y*w+x)*c+k] = uint8(min(max(math.Round(v), 0), 255))
			}
		}
	}
	return out
}

// PixelMap says how image bytes become integer model inputs.
type PixelMap string

// Pixel maps: Raw feeds u8 inputs the bytes and i8 inputs the bytes
// reinterpreted as int8 (as tflite-micro's own tests feed person_detect);
// Shift feeds i8 inputs byte-128.
const (
	Raw   PixelMap = "raw"
	Shift PixelMap = "shift"
)

// ImageLayout finds the height, width and channels of a 4-D image input and
// whether it is channels-last (NHWC, TFLite) or channels-first (NCHW, ONNX).
func ImageLayout(shape []int) (h, w, c int, nhwc bool, err error) {
	if len(shape) == 3 { // [N,H,W] grayscale
		return shape[1], shape[2], 1, true, nil
	}
	if len(shape) != 4 {
		return 0, 0, 0, false, fmt.Errorf("input %v is not an image (want N,H,W,C or N,C,H,W)", shape)
	}
	if shape[3] == 1 || shape[3] == 3 {
		return shape[1], shape[2], shape[3], true, nil
	}
	if shape[1] == 1 || shape[1] == 3 {
		return shape[2], shape[3], shape[1], false, nil
	}
	return 0, 0, 0, false, fmt.Errorf("input %v has neither 1 nor 3 channels", shape)
}

// ImageTensor resizes img to the input type t and converts its pixels:
// u8/i8 inputs by the pixel map, f32 inputs by pp ((p*Scale - Mean) / Std).
func ImageTensor(img image.Image, t ir.Type, pm PixelMap, pp Preprocess) (*ir.Tensor, error) {
	h, w, c, nhwc, err := ImageLayout(t.Shape)
	if err != nil {
		return nil, err
	}
	if t.Shape[0] != 1 {
		return nil, fmt.Errorf("input %v has batch %d; one image fills batch 1", t.Shape, t.Shape[0])
	}
	pix := ResizeBilinear(img, w, h, c)
	x := ir.NewTensor(t.DType, t.Shape)
	if pp.Std == 0 {
		pp.Std = 1
	}
	for y := 0; y < h; y++ {
		for xx := 0; xx < w; xx++ {
			for k := 0; k < c; k++ {
				p := pix[(y*w+xx)*c+k]
				i := (y*w+xx)*c + k
				if !nhwc {
					i = (k*h+y)*w + xx
				}
				switch t.DType {
				case ir.U8:
					x.U8[i] = p
				case ir.I8:
					if pm == Shift {
						x.I8[i] = int8(int(p) - 128)
					} else {
						x.I8[i] = int8(p)
					}
				case ir.F32:
					x.F32[i] = (float32(p)*pp.Scale - pp.Mean) / pp.Std
				default:
					return nil, fmt.Errorf("image input of type %v (want u8, i8 or f32)", t.DType)
				}
			}
		}
	}
	return x, nil
}
