//! SMPP PDU codec and session state machine.
