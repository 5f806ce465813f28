#!/usr/bin/env bash
# Every check CI runs, in the order a failure is cheapest to see. Makes (or reuses) its own
# virtualenv, builds and installs accelsim from this checkout, lints, tests, and smoke-runs the
# CLI. Usage: bash tests/run_all.sh   (VENV=path to pick the virtualenv; default .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
step() { printf '\n== %s\n' "$*"; }

step "virtualenv $VENV"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
# shellcheck disable=SC1091
. "$VENV/bin/activate"
python -m pip install -q --disable-pip-version-check maturin numpy rich pytest hypothesis ruff mypy onnx \
  'matplotlib>=3.7'

step "headless Chromium (the HTML report's browser test; skipped with a reason where missing)"
if command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
  || command -v google-chrome >/dev/null; then
  echo "found: $(command -v chromium || command -v chromium-browser || command -v google-chrome)"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  # Debian's chromium package: about 30 s with a reachable mirror.
  if timeout 600 sh -c 'DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium' >/tmp/accelsim-apt.log 2>&1
  then
    echo "installed: $(command -v chromium)"
  else
    echo "could not install chromium (see /tmp/accelsim-apt.log); the browser tests will skip"
  fi
else
  echo "not root or no apt-get: cannot install chromium; the browser tests will skip"
fi

step "cargo fmt --check"
cargo fmt --all --check
step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo test (core crate: unit, hand-worked, engine-agreement tests)"
cargo test -p accelsim-core --locked

step "build and install accelsim (release)"
python -m pip install -q --disable-pip-version-check --force-reinstall --no-deps .
python -c "import accelsim, accelsim._core as c; print('accelsim', accelsim.__version__, 'native', c.__version__)"

step "ruff"
ruff check python tests bench
ruff format --check python tests bench
step "mypy"
mypy
step "stubtest (python/accelsim/_core.pyi against the built module)"
python -m mypy.stubtest accelsim._core

step "pytest (hypothesis profile ci)"
HYPOTHESIS_PROFILE=ci python -m pytest -q -p no:cacheprovider

step "CLI smoke run"
out=$(mktemp -d)
accelsim run resnet18 --pe 32x32 --json "$out/resnet18.json" --quiet
python - "$out/resnet18.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["layers"]) == 21, len(r["layers"])
assert r["total_macs"] == 1_814_073_344, r["total_macs"]
assert r["total_cycles"] > 0
print(f"resnet18 on 32x32: {len(r['layers'])} layers, {r['total_macs']:,} MACs, {r['total_cycles']:,} cycles")
PY
if accelsim run no-such-model --pe 32x32 2>"$out/err"; then
  echo "an unknown model must fail"; exit 1
fi
grep -q "valid" "$out/err" && ! grep -q Traceback "$out/err"
accelsim run resnet18 --pe 16x16 --dram ddr4-3200 --run-dir "$out/run" --trace --quiet
accelsim plot "$out/run" --quiet
accelsim report "$out/run" -o "$out/report.html" --quiet
test -s "$out/run/plots/layers.png" && test -s "$out/run/plots/roofline.svg" && test -s "$out/report.html"
test -s "$out/run/plots/utilization.png" && test -s "$out/run/plots/dram_bandwidth.svg"
python -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["traceEvents"]' "$out/run/trace.json"
rm -rf "$out"
step "all checks passed"
