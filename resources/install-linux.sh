#!/bin/sh
# Install the segstudio bundle unpacked beside this script for the current user (no root needed):
#   ./install-linux.sh            -> ~/.local/opt/segstudio, ~/.local/bin/segstudio, menu entry and icon
#   PREFIX=/opt/local sudo -E ./install-linux.sh   for everyone (PREFIX/opt, PREFIX/bin, PREFIX/share)
#   ./install-linux.sh --uninstall
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=${PREFIX:-$HOME/.local}
target="$prefix/opt/segstudio"
applications="$prefix/share/applications"
icons="$prefix/share/icons/hicolor/512x512/apps"

if [ "${1:-}" = "--uninstall" ]; then
    rm -rf "$target" "$prefix/bin/segstudio" "$applications/segstudio.desktop" "$icons/segstudio.png"
    echo "segstudio removed from $prefix (your settings, autosaves and logs are kept)"
    exit 0
fi
if [ ! -x "$here/segstudio/segstudio" ]; then
    echo "install-linux.sh: no segstudio/segstudio beside this script; unpack the whole archive first" >&2
    exit 2
fi
mkdir -p "$prefix/opt" "$prefix/bin" "$applications" "$icons"
rm -rf "$target.new"
cp -R "$here/segstudio" "$target.new"
rm -rf "$target"
mv "$target.new" "$target"
ln -sf "$target/segstudio" "$prefix/bin/segstudio"
cp "$here/segstudio.png" "$icons/segstudio.png"
sed "s|^Exec=segstudio|Exec=$target/segstudio|" "$here/segstudio.desktop" > "$applications/segstudio.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$applications" || true
echo "segstudio installed in $target; run it from the applications menu or as $prefix/bin/segstudio"
echo "check it with: $prefix/bin/segstudio --self-test"
