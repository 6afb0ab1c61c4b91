"""Sans-IO SIP protocol core: messages, URIs, stream framing, transactions and dialogs."""
