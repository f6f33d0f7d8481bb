"""Rich renderables, one module per command's output. Pure: data in, renderable out; nothing prints."""
