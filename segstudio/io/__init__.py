"""Files <-> core types: images, mask files, label-set files, dataset folders, the project file."""
