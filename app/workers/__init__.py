"""Worker threads, one file each: capture (source -> mailbox), inference (mailbox -> engine ->
display/recorder) and recording (H.264 encoder and snapshots). They talk only via signals and
one-slot mailboxes; each stops cooperatively and is joined by the controller."""
