module github.com/libprov/libprov/bindings/go

go 1.21
