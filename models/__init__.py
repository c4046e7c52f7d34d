"""Everything the GUI, the command line and training share: generators, discriminator,
style library, inference engine and media I/O. Never imports PySide6 or `app`."""
