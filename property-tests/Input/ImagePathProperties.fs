module SsiHv.PropertyTests.Input.ImagePathProperties

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open SsiHv.Core.Input.ImagePath

let private config = { FsCheckConfig.defaultConfig with maxTest = 1000 }

/// Few, overlapping names, so that one path is often a prefix of another ("/a/b" and "/a/bb").
let private segment = Gen.elements [ "a"; "b"; "bb"; "images"; "images2" ]
let private segments = Gen.choose (0, 4) |> Gen.bind (fun n -> Gen.listOfLength n segment)
let private canonical (parts: string list) = "/" + String.Join("/", parts)

/// The model of "inside": the directory's segments are a proper prefix of the path's.
let private below (directory: string list) (path: string list) =
    path.Length > directory.Length && List.take directory.Length path = directory

let private fields = Gen.elements [ "kernel"; "initrd" ]

/// Any text a request may carry: absolute or not, with `.` and `..`, sometimes a NUL.
let private requested =
    Gen.oneof
        [ segments |> Gen.map canonical
          Gen.listOf (Gen.elements [ "a"; "b"; "."; ".."; ""; "images" ]) |> Gen.map (fun parts -> String.Join("/", parts))
          Gen.elements [ "vmlinuz"; "./vmlinuz"; "/boot/\000vmlinuz"; "\000"; ""; "/" ] ]

let tests =
    testList "image paths" [
        testPropertyWithConfig config "before anything resolves: NUL and relative paths are bad requests, without a directory every path is forbidden" <|
            Prop.forAll (Arb.fromGen (Gen.zip3 (Gen.optionOf (Gen.constant "/srv/images")) fields requested)) (fun (directory, field, path) ->
                match precheck directory field path with
                | Ok() -> not (path.Contains '\000') && path.StartsWith '/' && directory.IsSome
                | Error(ContainsNul f as refusal) -> f = field && path.Contains '\000' && ImagePathRefusal.kind refusal = RefusalKind.BadRequest
                | Error(NotAbsolute(f, p) as refusal) ->
                    f = field && p = path && not (path.StartsWith '/') && ImagePathRefusal.kind refusal = RefusalKind.BadRequest
                | Error(NoImageDirectory f as refusal) ->
                    f = field && directory.IsNone && ImagePathRefusal.kind refusal = RefusalKind.Forbidden
                    && (ImagePathRefusal.text refusal).Contains "set \"imageDirectory\""
                | Error other -> failwithf "precheck decided %A, which needs a resolution" other)

        testPropertyWithConfig config "a resolved path is read exactly when it lies strictly below the resolved directory, as its canonical form" <|
            Prop.forAll (Arb.fromGen (Gen.zip3 segments segments fields)) (fun (directory, path, field) ->
                let asked = "/srv/link/vmlinuz"
                match admit "/srv/images" (Resolved(canonical directory)) field asked (Resolved(canonical path)) with
                | Ok read -> below directory path && read = canonical path
                | Error(OutsideImageDirectory(f, p, d) as refusal) ->
                    not (below directory path) && f = field && p = asked && d = "/srv/images"
                    && ImagePathRefusal.kind refusal = RefusalKind.Forbidden
                | Error other -> failwithf "unexpected %A" other)

        testPropertyWithConfig config "a refusal never says where a path outside leads, nor why it does not resolve" <|
            Prop.forAll (Arb.fromGen (Gen.zip3 segments segments segments)) (fun (directory, target, asked) ->
                let asked = canonical ("elsewhere" :: asked)
                let secret = canonical ("secret-target" :: target)
                let outside = admit (canonical directory) (Resolved(canonical directory)) "kernel" asked (Resolved secret)
                let missing = admit (canonical directory) (Resolved(canonical directory)) "kernel" asked (Unresolvable "No such file or directory")
                match outside, missing with
                | Error(OutsideImageDirectory _ as a), Error(OutsideImageDirectory _ as b) ->
                    not ((ImagePathRefusal.text a).Contains "secret-target") && not ((ImagePathRefusal.text b).Contains "No such file")
                | Ok _, _
                | _, Ok _ -> directory.IsEmpty // "/" holds every path
                | a, b -> failwithf "unexpected %A, %A" a b)

        testPropertyWithConfig config "a path that does not resolve is told why only when its spelling lies inside the directory" <|
            Prop.forAll (Arb.fromGen (Gen.zip segments requested)) (fun (directory, path) ->
                let path = "/" + path
                match admit (canonical directory) (Resolved(canonical directory)) "initrd" path (Unresolvable "No such file or directory") with
                | Ok _ -> false
                | Error(UnresolvableInside(_, p, reason) as refusal) ->
                    p = path && reason = "No such file or directory" && isInside (canonical directory) (lexicalForm path)
                    && ImagePathRefusal.kind refusal = RefusalKind.BadRequest
                | Error(OutsideImageDirectory _) -> not (isInside (canonical directory) (lexicalForm path))
                | Error other -> failwithf "unexpected %A" other)

        testPropertyWithConfig config "the spelling's form drops . and .., never climbs above /, and is a fixed point" <|
            Prop.forAll (Arb.fromGen requested) (fun path ->
                let form = lexicalForm path
                form.StartsWith '/' && lexicalForm form = form
                && form.Split('/') |> Array.forall (fun s -> s <> "." && s <> "..")
                && (form = "/" || not (form.EndsWith '/')))

        test "a directory that does not resolve refuses every path, naming the config field" {
            let refused = admit "/srv/gone" (Unresolvable "No such file or directory") "kernel" "/srv/gone/vmlinuz" (Resolved "/srv/gone/vmlinuz")
            Expect.equal refused (Error(DirectoryUnresolvable("/srv/gone", "No such file or directory"))) "refused"
            Expect.equal (ImagePathRefusal.kind (DirectoryUnresolvable("/srv/gone", "x"))) RefusalKind.Forbidden "forbidden"
            Expect.stringContains (ImagePathRefusal.text (DirectoryUnresolvable("/srv/gone", "x"))) "imageDirectory /srv/gone" "named"
        }

        test "the messages" {
            Expect.equal (ImagePathRefusal.text (NotAbsolute("kernel", "vmlinuz")))
                "kernel: expected an absolute path on the boot node (starting with /), found \"vmlinuz\"" "relative"
            Expect.equal (ImagePathRefusal.text (OutsideImageDirectory("initrd", "/etc/shadow", "/srv/images")))
                "initrd: /etc/shadow is not inside the boot node's imageDirectory /srv/images (symlinks and .. resolved); put the file there" "outside"
            Expect.isFalse (isInside "/srv/images" "/srv/images") "the directory itself is no file in it"
            Expect.isFalse (isInside "/srv/images" "/srv/images2/vmlinuz") "a sibling sharing the prefix"
            Expect.isTrue (isInside "/" "/vmlinuz") "below /"
        }
    ]
