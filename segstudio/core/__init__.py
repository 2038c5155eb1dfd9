"""The truth: label sets, class-index masks, editing, undo and metrics. numpy/OpenCV/shapely only."""
