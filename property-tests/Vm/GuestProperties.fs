module SsiHv.PropertyTests.Vm.GuestProperties

open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Vm

let private config = { FsCheckConfig.defaultConfig with maxTest = 500 }

let private paths = Gen.elements [ "/boot/vmlinuz"; "bzImage"; "guests/linux-numa-memtest/initramfs.cpio"; "a b" ]
let private blanks = Gen.elements [ ""; " "; "\t" ]
let private appends = Gen.elements [ ""; "console=ttyS0"; "memtest=4 memtest.cpus=2" ]

/// Fields on both sides of every rule: known and unknown guest names, blank and real kernel paths, initrds
/// with and without a kernel, each field often absent.
let private fieldsGen =
    gen {
        let! guest = Gen.frequency [ 3, Gen.constant None; 3, Gen.constant (Some "probe"); 1, Gen.elements [ Some "doom"; Some "Probe"; Some "" ] ]
        let! kernel = Gen.frequency [ 3, Gen.constant None; 3, Gen.map Some paths; 1, Gen.map Some blanks ]
        let! initrd = Gen.frequency [ 3, Gen.constant None; 1, Gen.map Some paths ]
        let! append = Gen.optionOf appends
        return { Guest = guest; Kernel = kernel; Initrd = initrd; Append = append }
    }

let private guests =
    gen {
        let! image = Gen.oneof [ Gen.constant Probe; Gen.map2 (fun path initrd -> Kernel(path, initrd)) paths (Gen.optionOf paths) ]
        let! append = appends
        return { Image = image; Append = append }
    }

let private unnamed = Gen.elements [ UnnamedGuest.MeansProbe; UnnamedGuest.IsMissing ]
let private inputs = Gen.elements [ GuestInput.HttpBody; GuestInput.CommandLine ]

/// The field an error is about, as each input spells it.
let private fieldOf error =
    match error with
    | GuestAndKernel _ | NoGuest | UnknownGuest _ -> "guest"
    | BlankKernel _ -> "kernel"
    | InitrdWithoutKernel _ -> "initrd"

let tests =
    testList "guest" [
        testPropertyWithConfig config "a guest's fields read back as that guest, on every input" <|
            Prop.forAll (Arb.fromGen (Gen.zip guests unnamed)) (fun (guest, unnamed) ->
                Guest.parse unnamed (Guest.fields guest) = Ok guest)

        testPropertyWithConfig config "accepted fields keep every rule and a refusal names a rule the fields break" <|
            Prop.forAll (Arb.fromGen (Gen.zip fieldsGen unnamed)) (fun (fields, unnamed) ->
                let blank (path: string) = path.Trim() = ""
                match Guest.parse unnamed fields with
                | Ok guest ->
                    guest.Append = defaultArg fields.Append ""
                    && match guest.Image with
                       | Kernel(path, initrd) -> fields.Guest = None && fields.Kernel = Some path && not (blank path) && initrd = fields.Initrd
                       | Probe ->
                           fields.Kernel = None && fields.Initrd = None
                           && (fields.Guest = Some "probe" || fields.Guest = None && unnamed = UnnamedGuest.MeansProbe)
                | Error(GuestAndKernel(guest, kernel)) -> fields.Guest = Some guest && fields.Kernel = Some kernel
                | Error NoGuest -> fields.Guest = None && fields.Kernel = None && unnamed = UnnamedGuest.IsMissing
                | Error(UnknownGuest guest) -> fields.Guest = Some guest && guest <> "probe"
                | Error(BlankKernel kernel) -> fields.Kernel = Some kernel && blank kernel
                | Error(InitrdWithoutKernel initrd) -> fields.Initrd = Some initrd && fields.Kernel = None)

        testPropertyWithConfig config "every refusal names its field as its input spells it, and what was found" <|
            Prop.forAll (Arb.fromGen (Gen.zip3 fieldsGen unnamed inputs)) (fun (fields, unnamed, input) ->
                match Guest.parse unnamed fields with
                | Ok _ -> true
                | Error error ->
                    let text = GuestError.text input error
                    let field = fieldOf error
                    let named =
                        match input with
                        | GuestInput.HttpBody -> text.StartsWith(field + ": ")
                        | GuestInput.CommandLine -> text.Contains("--" + field)
                    let found =
                        match error with
                        | GuestAndKernel(guest, kernel) -> text.Contains guest && text.Contains kernel
                        | NoGuest -> text.Contains "neither"
                        | UnknownGuest found -> text.Contains found
                        | BlankKernel _ -> text.Contains "found "
                        | InitrdWithoutKernel _ -> text.Contains "probe guest takes none"
                    named && found)

        test "the messages each input has always given" {
            let http = GuestError.text GuestInput.HttpBody
            let cli = GuestError.text GuestInput.CommandLine
            Expect.equal (http NoGuest)
                "guest: give exactly one of \"guest\": \"probe\" and \"kernel\": \"FILE\" (a path on the boot node), found neither" "neither, HTTP"
            Expect.equal (http (GuestAndKernel("probe", "/boot/vmlinuz")))
                "guest: give exactly one of \"guest\": \"probe\" and \"kernel\": \"FILE\" (a path on the boot node), found \"guest\": \"probe\" and \"kernel\": \"/boot/vmlinuz\"" "both, HTTP"
            Expect.equal (http (UnknownGuest "doom")) "guest: unknown guest \"doom\"; expected \"probe\"" "unknown, HTTP"
            Expect.equal (http (BlankKernel "")) "kernel: expected a file path on the boot node, found an empty string" "blank kernel, HTTP"
            Expect.equal (http (InitrdWithoutKernel "rd")) "initrd: only with \"kernel\"; the probe guest takes none" "initrd, HTTP"
            Expect.equal (cli (GuestAndKernel("probe", "/bin/true")))
                "--guest probe and --kernel /bin/true: give exactly one of --kernel FILE or --guest probe" "both, command line"
            Expect.equal (cli NoGuest) "give exactly one of --kernel FILE or --guest probe, found neither" "neither, command line"
            Expect.equal (cli (UnknownGuest "memtest")) "--guest memtest: unknown guest; expected 'probe'" "unknown, command line"
            Expect.equal (cli (InitrdWithoutKernel "rd")) "--initrd rd: only with --kernel; the probe guest takes none" "initrd, command line"
        }

        test "naming neither is the probe guest only where the input says so" {
            let neither = { Guest = None; Kernel = None; Initrd = None; Append = Some "memtest=4" }
            Expect.equal (Guest.parse UnnamedGuest.MeansProbe neither) (Ok { Image = Probe; Append = "memtest=4" }) "ssihv up"
            Expect.equal (Guest.parse UnnamedGuest.IsMissing neither) (Error NoGuest) "ssihv run, POST /v1/vm"
        }
    ]
