package llvm

import (
	"debug/elf"
	"encoding/binary"
	"fmt"

	"github.com/pare-ml/pare/codegen"
)

// Stack use: llc writes each function's frame size into the object's
// .stack_sizes section (-stack-size-section: an address, relocated to the
// function, and a ULEB128 size per function). NAME_run and
// NAME_run_hooked call the kernels, which call nothing of the module (only
// intrinsics; libm's expf, logf, ... for some float kernels), so the stack
// a call needs is the larger driver frame plus the largest kernel frame.

// stackSizes reads the frame size of every function of the ELF object obj
// from its .stack_sizes sections.
func stackSizes(obj string) (map[string]uint64, error) {
	f, err := elf.Open(obj)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if f.Class != elf.ELFCLASS64 {
		return nil, fmt.Errorf("%s: a 64-bit ELF object expected", obj)
	}
	syms, err := f.Symbols()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", obj, err)
	}
	// funcAt: a function's name by section and offset (relocations against
	// a section symbol name the function by its offset).
	funcAt := map[[2]uint64]string{}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC {
			funcAt[[2]uint64{uint64(s.Section), s.Value}] = s.Name
		}
	}
	sizes := map[string]uint64{}
	for i, sec := range f.Sections {
		if sec.Name != ".stack_sizes" {
			continue
		}
		data, err := sec.Data()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %v", obj, sec.Name, err)
		}
		// The section's relocations: offset → function.
		at := map[uint64]string{}
		for _, r := range f.Sections {
			if r.Type != elf.SHT_RELA || int(r.Info) != i {
				continue
			}
			rd, err := r.Data()
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %v", obj, r.Name, err)
			}
			for o := 0; o+24 <= len(rd); o += 24 {
				off := f.ByteOrder.Uint64(rd[o:])
				info := f.ByteOrder.Uint64(rd[o+8:])
				addend := f.ByteOrder.Uint64(rd[o+16:])
				si := int(info >> 32)
				if si < 1 || si > len(syms) {
					return nil, fmt.Errorf("%s: %s: symbol %d out of range", obj, r.Name, si)
				}
				s := syms[si-1]
				name := s.Name
				if elf.ST_TYPE(s.Info) == elf.STT_SECTION || name == "" {
					name = funcAt[[2]uint64{uint64(s.Section), addend}]
				}
				at[off] = name
			}
		}
		for o := 0; o < len(data); {
			if o+8 > len(data) {
				return nil, fmt.Errorf("%s: truncated .stack_sizes", obj)
			}
			name := at[uint64(o)]
			o += 8
			size, n := binary.Uvarint(data[o:])
			if n <= 0 {
				return nil, fmt.Errorf("%s: bad .stack_sizes entry", obj)
			}
			o += n
			if name != "" {
				sizes[name] = max(sizes[name], size)
			}
		}
	}
	if len(sizes) == 0 {
		return nil, fmt.Errorf("%s: no .stack_sizes entries", obj)
	}
	return sizes, nil
}

// stackBound is the stack NAME_run or NAME_run_hooked of p needs at most,
// from the frame sizes of obj's functions: the larger driver frame plus
// the largest kernel frame (each frame with its return address).
func stackBound(p *codegen.Program, obj string) (uint64, error) {
	sizes, err := stackSizes(obj)
	if err != nil {
		return 0, err
	}
	var driver, kernel uint64
	for name, s := range sizes {
		if name == p.Name+"_run" || name == p.Name+"_run_hooked" {
			driver = max(driver, s+8)
		} else {
			kernel = max(kernel, s+8)
		}
	}
	if driver == 0 {
		return 0, fmt.Errorf("%s: no frame size for %s_run", obj, p.Name)
	}
	return driver + kernel, nil
}
