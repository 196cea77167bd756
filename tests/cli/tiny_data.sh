# Sourced by the CLI tests: tiny_data DIR writes the first 48 training and
# 16 test images of Fashion-MNIST (the Debian package's, or
# $NDE_FASHION_MNIST_DIR), uncompressed, into DIR for `nde ... --data DIR`.
tiny_be32() {
  printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))"
  printf "\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"
}
tiny_subset() { # tiny_subset SRC DIR PREFIX COUNT
  { printf '\x00\x00\x08\x03'; tiny_be32 "$4"; tiny_be32 28; tiny_be32 28
    gzip -dc "$1/$3-images-idx3-ubyte.gz" | tail -c +17 | head -c $(($4 * 784)); } \
    >"$2/$3-images-idx3-ubyte"
  { printf '\x00\x00\x08\x01'; tiny_be32 "$4"
    gzip -dc "$1/$3-labels-idx1-ubyte.gz" | tail -c +9 | head -c "$4"; } \
    >"$2/$3-labels-idx1-ubyte"
}
tiny_data() {
  local src=${NDE_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
  mkdir -p "$1" && tiny_subset "$src" "$1" train 48 && tiny_subset "$src" "$1" t10k 16
}
