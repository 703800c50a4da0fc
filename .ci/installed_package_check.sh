#!/usr/bin/env bash
# The package as a user installs it: build a wheel of the checkout, install it (not editable) into
# a fresh virtual environment, and run the presets and commands from a directory outside the
# checkout, so that a file missing from the wheel (a preset not in package-data) fails here.
# The new environment borrows the current one's dependencies (torch, ...) through a .pth file;
# its own site-packages comes first, so `import vgan` finds the wheel, not the editable install.
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# a clean copy of the sources (tracked and new files, not ignored ones): a stale egg-info/SOURCES.txt
# in the checkout would otherwise add the presets to the wheel even when package-data misses them
mkdir "$tmp/src"
git ls-files -z --cached --others --exclude-standard | tar --null -T - --ignore-failed-read -cf - | tar -xf - -C "$tmp/src"
pip wheel -q --no-deps --no-build-isolation -w "$tmp/dist" "$tmp/src"
python -m venv --without-pip "$tmp/venv"
site_of() { "$1" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }
site_of python > "$(site_of "$tmp/venv/bin/python")/zz_borrowed_dependencies.pth"
pip --python "$tmp/venv/bin/python" install -q --no-deps "$tmp"/dist/*.whl

mkdir "$tmp/elsewhere" && cd "$tmp/elsewhere"  # outside the checkout: nothing to find by a relative path
PATH="$tmp/venv/bin:$PATH"
where=$(python -c 'import vgan; print(vgan.__file__)')
case "$where" in
    "$tmp/venv/"*) echo "installed-package check: vgan from $where" ;;
    *) echo "installed-package check: vgan was imported from $where, not from the wheel" >&2; exit 1 ;;
esac
# every YAML file of the checkout's presets folder is a preset of the installed package
expected=$(cd "$checkout/src/vgan/config/presets" && find . -name '*.yaml' | sed 's|^\./||; s|\.yaml$||' | LC_ALL=C sort)
installed=$(vgan configs | cut -d' ' -f1 | LC_ALL=C sort)
if [ "$expected" != "$installed" ]; then
    missing=$(LC_ALL=C comm -23 <(echo "$expected") <(echo "$installed") | paste -sd' ')
    echo "installed-package check: presets missing from the wheel ($missing);" \
         "add their folder to [tool.setuptools.package-data] in pyproject.toml" >&2
    exit 1
fi
vgan configs --check
vgan train --config mnist_gan --dry-run
vgan reproduce table2 --scale smoke --help > /dev/null
echo "installed-package check: ok"
