#!/usr/bin/env bash
# The layers: every #include "folder/..." in src/<folder>/ must name its own folder or one it may use, as
# written once in CMakeLists.txt (MUSE_LAYERS -> build/layers.txt, "layer:allowed,allowed,...").
# Usage: layers_test.sh LAYERS_FILE SOURCE_DIR
set -euo pipefail
layers_file=$1
src=$2/src
[ -s "$layers_file" ] || { echo "FAIL: $layers_file is missing or empty"; exit 1; }
declare -A allowed
while IFS=: read -r layer deps; do
  [ -n "$layer" ] && allowed[$layer]=",$deps,"
done < "$layers_file"
failures=0
for dir in "$src"/*/; do
  layer=$(basename "$dir")
  if [ -z "${allowed[$layer]+x}" ]; then
    echo "FAIL: src/$layer is not a layer in CMakeLists.txt (add it to the order)"
    failures=$((failures + 1))
    continue
  fi
  while IFS= read -r hit; do
    file=${hit%%:*}
    target=$(sed -E 's/.*#include "([a-z_]+)\/.*/\1/' <<<"$hit")
    [ "$target" = "$layer" ] && continue
    case "${allowed[$layer]}" in
      *",$target,"*) ;;
      *) echo "FAIL: ${file#$2/} includes $target/, which $layer may not use (allowed: ${allowed[$layer]})"
         failures=$((failures + 1)) ;;
    esac
  done < <(grep -rHE '^#include "[a-z_]+/' "$dir" || true)
done
# The check itself must be able to fail: a forbidden include planted in a copy is caught.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src/util"
echo '#include "engine/engine.h"' > "$tmp/src/util/bad.h"
if [ "${LAYERS_SELF_CHECK:-1}" = 1 ] && LAYERS_SELF_CHECK=0 bash "$0" "$layers_file" "$tmp" > /dev/null 2>&1; then
  echo "FAIL: the check accepted util/ including engine/"
  failures=$((failures + 1))
fi
if [ "$failures" -gt 0 ]; then echo "$failures layer violation(s)"; exit 1; fi
echo "layers ok: $(wc -l < "$layers_file") layers, every include runs down the order"
