using System.Diagnostics;
using System.Globalization;
using System.Net;
using SsiHv.Core.Transport;
using SsiHv.Shell.Nodes;
using SsiHv.Shell.Transport.Tcp;

namespace SsiHv.Shell.Bench;

/// <summary>
/// The remote home of <c>ssihv bench remote-fault</c>, in its own process (<c>ssihv bench remote-fault-home</c>,
/// started by the benchmark, not meant for people): node <see cref="Node"/>'s <see cref="HomePageStore"/> served
/// by a <see cref="TcpNodeTransport"/> on 127.0.0.1, exactly the pieces a memory node host serves its pages with,
/// without the control plane. Protocol on its standard streams: it reads one line "SECRET_HEX STORE_MIB", prints
/// "listening 127.0.0.1:PORT", serves until its standard input closes, then prints "stored N pages" and exits 0.
/// </summary>
public static class RemoteFaultHome
{
    public const int Node = 1;
    const string ListeningPrefix = "listening ";
    /// Far above a whole benchmark's duration; the parent closing our input is the normal end.
    static readonly TimeSpan ServeTimeout = TimeSpan.FromMinutes(30);
    // A .NET process starting in a loaded lab machine took over 30 s to say where it listens.
    static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);
    static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

    /// The home process's side. Returns the exit code; bad input is reported on `output` and exits 2.
    public static int Serve(TextReader input, TextWriter output)
    {
        var words = input.ReadLine()?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? [];
        if (words.Length != 2 || !long.TryParse(words[1], NumberStyles.None, CultureInfo.InvariantCulture, out var storeMiB) || storeMiB < 1)
        {
            output.WriteLine("remote-fault-home: expected one line 'SECRET_HEX STORE_MIB' on standard input");
            return 2;
        }
        byte[] secretBytes;
        try
        {
            secretBytes = Convert.FromHexString(words[0]);
        }
        catch (FormatException)
        {
            output.WriteLine("remote-fault-home: the secret is not hexadecimal");
            return 2;
        }
        var secret = ClusterSecretModule.tryCreate(secretBytes);
        if (secret.IsError)
        {
            output.WriteLine($"remote-fault-home: secret: {secret.ErrorValue}");
            return 2;
        }

        using var store = new HomePageStore(Node, storeMiB);
        var transport = new TcpNodeTransport(new Transport.TransportOptions(Node, new IPEndPoint(IPAddress.Loopback, 0), secret.ResultValue, store)
        {
            Log = line => Console.Error.WriteLine($"remote-fault-home: {line}"),
            // Its side of the hello has the same patience as the benchmark's (RemoteFaultOurs).
            ConnectTimeout = TimeSpan.FromSeconds(10),
        });
        try
        {
            output.WriteLine($"{ListeningPrefix}{transport.ListenEndpoint}");
            output.Flush();
            var endOfInput = Task.Run(() =>
            {
                while (input.ReadLine() is not null) { }
            });
            if (!endOfInput.Wait(ServeTimeout))
            {
                output.WriteLine($"remote-fault-home: standard input still open after {ServeTimeout.TotalMinutes} min; stopping");
                return 1;
            }
            output.WriteLine($"stored {store.PagesStored} pages");
            return 0;
        }
        finally
        {
            if (!transport.DisposeAsync().AsTask().Wait(StopTimeout))
                Console.Error.WriteLine($"remote-fault-home: the transport did not stop within {StopTimeout.TotalSeconds} s");
        }
    }

    /// <summary>The benchmark's side: the home process, started and ready, stopped by Dispose.</summary>
    public sealed class Process : IDisposable
    {
        readonly System.Diagnostics.Process process;

        public string Endpoint { get; }
        public ClusterSecret Secret { get; }

        Process(System.Diagnostics.Process process, string endpoint, ClusterSecret secret)
        {
            (this.process, Endpoint, Secret) = (process, endpoint, secret);
        }

        /// Starts `ssihv bench remote-fault-home` of this build and waits until it listens; with `cpu`, every
        /// thread of it runs on that CPU (started through util-linux `taskset`, so the runtime's threads too).
        public static Process Start(int storeMiB, int? cpu)
        {
            var secretBytes = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
            var secret = ClusterSecretModule.tryCreate(secretBytes).ResultValue;
            var home = FaultProbeRun.OurCommand(["bench", "remote-fault-home"]);
            var command = cpu is { } pinned
                ? new BootCommand("taskset", ["-c", pinned.ToString(CultureInfo.InvariantCulture), home.FileName, .. home.Arguments], home.Environment)
                : home;
            var start = new ProcessStartInfo(command.FileName)
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in command.Arguments)
                start.ArgumentList.Add(argument);
            var process = System.Diagnostics.Process.Start(start)
                ?? throw new BenchRunException($"remote home: cannot start '{command.Display}'");
            var errors = new List<string>();
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (errors) errors.Add(e.Data); };
            process.BeginErrorReadLine();
            process.StandardInput.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{Convert.ToHexString(secretBytes)} {storeMiB}"));
            process.StandardInput.Flush();
            var firstLine = process.StandardOutput.ReadLineAsync();
            if (!firstLine.Wait(StartTimeout) || firstLine.Result is not { } line || !line.StartsWith(ListeningPrefix, StringComparison.Ordinal))
            {
                var said = firstLine.IsCompletedSuccessfully ? firstLine.Result ?? "(end of output)" : "(nothing yet)";
                Kill(process);
                lock (errors)
                    throw new BenchRunException($"remote home: '{command.Display}' did not report its endpoint within {StartTimeout.TotalSeconds} s; it said: {said}", [.. errors]);
            }
            return new Process(process, line[ListeningPrefix.Length..], secret);
        }

        /// Closes its input (its signal to stop) and waits for it; kills it when it does not exit in time.
        public void Dispose()
        {
            try
            {
                process.StandardInput.Close();
                if (!process.WaitForExit(StopTimeout))
                    Kill(process);
            }
            finally
            {
                process.Dispose();
            }
        }

        static void Kill(System.Diagnostics.Process process)
        {
            try
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(StopTimeout);
            }
            catch (InvalidOperationException)
            {
                // Already exited.
            }
        }
    }
}
