/// The 8250/16550 UART register model (COM1) as a pure state machine, in the manner of rust-vmm's vm-superio:
/// the shell feeds it register accesses and received bytes and performs the effects it returns (console
/// output, the IRQ line level). No FIFO timing, no modem lines beyond what drivers probe.
module SsiHv.Core.Devices.Uart8250

type Register =
    | Data = 0
    | InterruptEnable = 1
    | InterruptIdentification = 2
    | LineControl = 3
    | ModemControl = 4
    | LineStatus = 5
    | ModemStatus = 6
    | Scratch = 7

type Uart =
    { InterruptEnable: byte
      LineControl: byte
      ModemControl: byte
      Scratch: byte
      DivisorLatch: uint16
      /// Bytes received from the console and not yet read by the guest, oldest first.
      Received: byte list
      /// Set when the transmitter became empty with its interrupt enabled; cleared by reading IIR or writing THR.
      TransmitInterruptPending: bool }

type Effect =
    | Transmit of byte
    /// The level the UART drives on its IRQ line after this access.
    | InterruptLine of bool

let receiveCapacity = 64

let initial =
    { InterruptEnable = 0uy; LineControl = 0x03uy; ModemControl = 0x08uy; Scratch = 0uy; DivisorLatch = 12us
      Received = []; TransmitInterruptPending = false }

let private ierReceivedData = 0x01uy
let private ierTransmitEmpty = 0x02uy
let private lcrDivisorLatchAccess = 0x80uy
let private mcrLoopback = 0x10uy
let private lsrDataReady = 0x01uy
/// The transmitter is always empty: bytes leave the moment they are written.
let private lsrTransmitterEmpty = 0x60uy
let private iirNoInterrupt = 0x01uy
let private iirTransmitEmpty = 0x02uy
let private iirReceivedData = 0x04uy
/// FIFOs enabled bits as a 16550A reports them, so Linux detects a 16550A.
let private iirFifoEnabled = 0xC0uy

let private divisorLatchSelected (u: Uart) = u.LineControl &&& lcrDivisorLatchAccess <> 0uy

let private receiveInterrupt (u: Uart) = u.InterruptEnable &&& ierReceivedData <> 0uy && not u.Received.IsEmpty

let interruptPending (u: Uart) = receiveInterrupt u || u.TransmitInterruptPending

let private withLine (u: Uart) (effects: Effect list) = u, effects @ [ InterruptLine(interruptPending u) ]

/// A byte from the console; dropped when the guest has not drained the receive buffer (no flow control).
let receive (b: byte) (u: Uart) =
    if u.Received.Length >= receiveCapacity then withLine u []
    else withLine { u with Received = u.Received @ [ b ] } []

let read (register: Register) (u: Uart) : Uart * byte * Effect list =
    let value, next =
        match register with
        | Register.Data when divisorLatchSelected u -> byte (u.DivisorLatch &&& 0xFFus), u
        | Register.Data ->
            match u.Received with
            | b :: rest -> b, { u with Received = rest }
            | [] -> 0uy, u
        | Register.InterruptEnable when divisorLatchSelected u -> byte (u.DivisorLatch >>> 8), u
        | Register.InterruptEnable -> u.InterruptEnable, u
        | Register.InterruptIdentification ->
            if receiveInterrupt u then iirFifoEnabled ||| iirReceivedData, u
            elif u.TransmitInterruptPending then iirFifoEnabled ||| iirTransmitEmpty, { u with TransmitInterruptPending = false }
            else iirFifoEnabled ||| iirNoInterrupt, u
        | Register.LineControl -> u.LineControl, u
        | Register.ModemControl -> u.ModemControl, u
        | Register.LineStatus -> lsrTransmitterEmpty ||| (if u.Received.IsEmpty then 0uy else lsrDataReady), u
        // Loopback reflects MCR outputs into MSR (drivers probe this); otherwise report CTS, DSR and DCD.
        | Register.ModemStatus ->
            (if u.ModemControl &&& mcrLoopback <> 0uy then (u.ModemControl &&& 0x0Fuy) <<< 4 else 0xB0uy), u
        | Register.Scratch -> u.Scratch, u
        | _ -> 0xFFuy, u
    let final, effects = withLine next []
    final, value, effects

let write (register: Register) (value: byte) (u: Uart) : Uart * Effect list =
    match register with
    | Register.Data when divisorLatchSelected u -> withLine { u with DivisorLatch = (u.DivisorLatch &&& 0xFF00us) ||| uint16 value } []
    | Register.Data ->
        let transmitted = if u.ModemControl &&& mcrLoopback <> 0uy then [] else [ Transmit value ]
        let looped = if u.ModemControl &&& mcrLoopback <> 0uy then { u with Received = u.Received @ [ value ] } else u
        withLine { looped with TransmitInterruptPending = u.InterruptEnable &&& ierTransmitEmpty <> 0uy } transmitted
    | Register.InterruptEnable when divisorLatchSelected u ->
        withLine { u with DivisorLatch = (u.DivisorLatch &&& 0x00FFus) ||| (uint16 value <<< 8) } []
    | Register.InterruptEnable ->
        // Enabling the transmit-empty interrupt with an empty transmitter raises it at once (8250 behaviour
        // Linux's serial driver relies on to start transmitting).
        let enablesTransmit = value &&& ierTransmitEmpty <> 0uy && u.InterruptEnable &&& ierTransmitEmpty = 0uy
        withLine { u with InterruptEnable = value &&& 0x0Fuy
                          TransmitInterruptPending = if value &&& ierTransmitEmpty = 0uy then false else u.TransmitInterruptPending || enablesTransmit } []
    | Register.LineControl -> withLine { u with LineControl = value } []
    | Register.ModemControl -> withLine { u with ModemControl = value &&& 0x1Fuy } []
    | Register.Scratch -> withLine { u with Scratch = value } []
    | _ -> withLine u []
