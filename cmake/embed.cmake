# cmake -DIN=file -DOUT=file.c -DSYMBOL=name -P embed.cmake
# Writes OUT defining `const char SYMBOL[]` (the bytes of IN, NUL-terminated)
# and `const unsigned long SYMBOL_len`, so data files ship inside the binary.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n" bytes "${bytes}")
file(WRITE ${OUT} "/* generated from ${IN} by cmake/embed.cmake */\n"
  "const char ${SYMBOL}[] = {\n${bytes}0x00};\n"
  "const unsigned long ${SYMBOL}_len = ${len};\n")
