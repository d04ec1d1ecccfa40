/// Model-based tests of the device register models: random sequences of guest register accesses and console
/// input run against the pure 8250 and PM models and against a plain model of what a UART/PM block must do.
module SsiHv.PropertyTests.Devices.DeviceProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Acpi
open SsiHv.Core.Devices

let private config = { FsCheckConfig.defaultConfig with maxTest = 500 }

type UartCommand =
    | GuestWrites of byte
    | GuestReads
    | ConsoleTypes of byte
    | EnableInterrupts of byte
    | ReadIdentification

let private uartCommand =
    Gen.frequency
        [ 3, ArbMap.defaults |> ArbMap.generate<byte> |> Gen.map GuestWrites
          3, Gen.constant GuestReads
          3, ArbMap.defaults |> ArbMap.generate<byte> |> Gen.map ConsoleTypes
          1, Gen.choose (0, 3) |> Gen.map (byte >> EnableInterrupts)
          1, Gen.constant ReadIdentification ]

/// The model: bytes written leave in order, bytes typed arrive in order (up to the receive capacity), and the
/// IRQ line is high exactly when an enabled interrupt is pending.
type private Model = { Sent: byte list; Pending: byte list; Ier: byte; TransmitPending: bool }

let private lastLine effects =
    effects |> List.choose (function Uart8250.InterruptLine l -> Some l | _ -> None) |> List.last

let tests =
    testList "devices" [
        testPropertyWithConfig config "8250: output in order, input in order, IRQ line = enabled interrupt pending" <|
            Prop.forAll (Arb.fromGen (Gen.listOf uartCommand)) (fun commands ->
                let step (uart, model: Model, ok) command =
                    match command with
                    | GuestWrites b ->
                        let next, effects = Uart8250.write Uart8250.Register.Data b uart
                        let sent = effects |> List.choose (function Uart8250.Transmit t -> Some t | _ -> None)
                        let m = { model with Sent = model.Sent @ sent; TransmitPending = model.Ier &&& 2uy <> 0uy }
                        next, m, ok && sent = [ b ] && lastLine effects = Uart8250.interruptPending next
                    | GuestReads ->
                        let next, value, effects = Uart8250.read Uart8250.Register.Data uart
                        let expected, rest = match model.Pending with h :: t -> h, t | [] -> 0uy, []
                        next, { model with Pending = rest }, ok && value = expected && lastLine effects = Uart8250.interruptPending next
                    | ConsoleTypes b ->
                        let next, effects = Uart8250.receive b uart
                        let pending = if model.Pending.Length < Uart8250.receiveCapacity then model.Pending @ [ b ] else model.Pending
                        next, { model with Pending = pending }, ok && lastLine effects = Uart8250.interruptPending next
                    | EnableInterrupts ier ->
                        let next, effects = Uart8250.write Uart8250.Register.InterruptEnable ier uart
                        let transmit = ier &&& 2uy <> 0uy && (model.TransmitPending || model.Ier &&& 2uy = 0uy)
                        next, { model with Ier = ier; TransmitPending = transmit }, ok && lastLine effects = Uart8250.interruptPending next
                    | ReadIdentification ->
                        let next, iir, _ = Uart8250.read Uart8250.Register.InterruptIdentification uart
                        let receiving = model.Ier &&& 1uy <> 0uy && not model.Pending.IsEmpty
                        let expected = if receiving then 0xC4uy elif model.TransmitPending then 0xC2uy else 0xC1uy
                        next, { model with TransmitPending = model.TransmitPending && receiving }, ok && iir = expected
                let uart, model, ok =
                    commands |> List.fold step (Uart8250.initial, { Sent = []; Pending = []; Ier = 0uy; TransmitPending = false }, true)
                let _, lsr, _ = Uart8250.read Uart8250.Register.LineStatus uart
                ok && (lsr &&& 1uy = 1uy) = not model.Pending.IsEmpty && lsr &&& 0x60uy = 0x60uy)

        testPropertyWithConfig config "PM1a control: only SLP_EN with the \\_S5 sleep type powers off; SCI_EN always reads 1" <|
            fun (value: uint16) ->
                let pm, request = PowerManagement.writeControl value PowerManagement.initial
                let sleepType = (value >>> Facp.sleepTypeShift) &&& 7us
                let expectOff = value &&& Facp.sleepEnableBit <> 0us && sleepType = uint16 Dsdt.s5SleepType
                (request = (if expectOff then Some PowerManagement.PowerOff else None))
                && PowerManagement.readControl pm &&& Facp.sciEnableBit <> 0us
                && PowerManagement.readControl pm &&& Facp.sleepEnableBit = 0us

        testPropertyWithConfig config "the reset register resets only on RESET_VALUE" <| fun (value: byte) ->
            (PowerManagement.writeReset value = if value = Facp.resetValue then Some PowerManagement.Reset else None)

        testPropertyWithConfig config "the PM timer runs at 3.579545 MHz and wraps at 32 bits" <| fun (ns: uint64) ->
            let expected = System.Numerics.BigInteger(ns) * System.Numerics.BigInteger(Facp.pmTimerFrequencyHz) / System.Numerics.BigInteger(1_000_000_000UL)
            PowerManagement.pmTimerValue ns = uint32 (expected % System.Numerics.BigInteger(0x1_0000_0000UL))
    ]
