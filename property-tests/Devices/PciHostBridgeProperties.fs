module SsiHv.PropertyTests.Devices.PciHostBridgeProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Devices

let private config = { FsCheckConfig.defaultConfig with maxTest = 500 }

/// The dword at `register` of bus/device/function, read the way Linux's type-1 accessor does.
let private dword bus device fn register =
    let address = PciHostBridge.writeAddress (0x8000_0000u ||| (bus <<< 16) ||| (device <<< 11) ||| (fn <<< 8) ||| register)
    PciHostBridge.readData address 0 4

let tests =
    testList "PCI host bridge" [
        test "Linux's type-1 probe finds a host bridge at 00:00.0 and nothing else on bus 0" {
            Expect.equal (PciHostBridge.writeAddress 0x8000_0000u) 0x8000_0000u "CONFIG_ADDRESS reads back the probe value"
            Expect.equal (dword 0u 0u 0u 0u) 0x0008_1B36u "vendor 1B36, device 0008"
            Expect.equal (dword 0u 0u 0u 8u >>> 8) 0x06_00_00u "class: bridge, host"
            Expect.equal ((dword 0u 0u 0u 0xCu >>> 16) &&& 0xFFu) 0u "header type 0, single function"
            for device in 1u .. 31u do
                Expect.equal (dword 0u device 0u 0u) 0xFFFF_FFFFu $"device {device} absent"
        }
        testPropertyWithConfig config "any function other than 00:00.0, or any access with the enable bit clear, reads all ones" <|
            fun (address: uint32) (offset: byte) (sizeIndex: byte) ->
                let length = [| 1; 2; 4 |].[int sizeIndex % 3]
                let offset = int offset % (5 - length)
                let target = (address >>> 8) &&& 0xFFFFu
                let value = PciHostBridge.readData address offset length
                let allOnes = if length = 4 then 0xFFFF_FFFFu else (1u <<< (8 * length)) - 1u
                // The bridge's header has no byte 0xFF, so all ones means "absent" and nothing else.
                (address &&& 0x8000_0000u = 0u || target <> 0u) = (value = allOnes)
        testPropertyWithConfig config "byte and word reads of the bridge agree with the dword they belong to" <|
            fun (register: byte) (offset: byte) ->
                let address = PciHostBridge.writeAddress (0x8000_0000u ||| uint32 register)
                let whole = PciHostBridge.readData address 0 4
                let offset = int offset % 4
                PciHostBridge.readData address offset 1 = ((whole >>> (8 * offset)) &&& 0xFFu)
                && (offset > 2 || PciHostBridge.readData address offset 2 = ((whole >>> (8 * offset)) &&& 0xFFFFu))
        testPropertyWithConfig config "CONFIG_ADDRESS is a dword register: narrower reads see all ones, narrower writes change nothing" <|
            fun (address: uint32) (value: uint32) (sizeIndex: byte) ->
                let length = [| 1; 2; 4 |].[int sizeIndex % 3]
                let read = PciHostBridge.readAddress address length
                let written = PciHostBridge.afterAddressWrite address value length
                if length = 4 then read = address && written = PciHostBridge.writeAddress value
                else read = (1u <<< (8 * length)) - 1u && written = address
        testPropertyWithConfig config "CONFIG_ADDRESS keeps the enable bit, bus, device, function and dword register only" <|
            fun (value: uint32) ->
                let kept = PciHostBridge.writeAddress value
                kept = (value &&& 0x80FF_FFFCu) && PciHostBridge.writeAddress kept = kept
    ]
