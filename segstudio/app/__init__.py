"""The use cases, Qt-free: what the command line and the window both do (predict files, ...). ``ui`` and the command
line call these; ``models`` and ``io`` never import this layer."""
