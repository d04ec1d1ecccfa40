using System.Text.Json;
using SsiHv.Core.Cluster;
using SsiHv.Core.Topology;

namespace SsiHv.Shell.Control;

/// <summary>
/// A memory node's watch over its own membership once it has joined (docs/operations.md, "Node loss"): asks the
/// boot node's GET /v1/cluster every <c>checkInterval</c> what it says of this node and does what
/// <see cref="Rejoin.judge"/> decides: joins again when the boot node has it as lost or no longer lists it (it
/// was stopped past the keep-alive, the boot node restarted), backs off by <see cref="Rejoin.delay"/> while that
/// fails or the boot node does not answer, and stops watching when an operator took the node out. Every change is
/// one log line.
/// </summary>
public sealed class RejoinLoop : IAsyncDisposable
{
    /// GET /v1/cluster lists at most the members within their retention: far below this.
    const long MaximumReplyBytes = 4 << 20;

    readonly string bootUrl;
    readonly string apiToken;
    readonly JoinRequest request;
    readonly TimeSpan checkInterval;
    readonly TimeSpan attemptTimeout;
    readonly Action<string> log;
    readonly CancellationTokenSource stopping = new();
    readonly HttpClient http;
    readonly Task loop;

    public RejoinLoop(string bootUrl, string apiToken, JoinRequest request, TimeSpan checkInterval, TimeSpan attemptTimeout, Action<string> log)
    {
        this.bootUrl = bootUrl;
        this.apiToken = apiToken;
        this.request = request;
        this.checkInterval = checkInterval;
        this.attemptTimeout = attemptTimeout;
        this.log = log;
        http = new HttpClient { Timeout = attemptTimeout, MaxResponseContentBufferSize = MaximumReplyBytes };
        loop = Task.Run(RunAsync);
    }

    int Self => request.Id!.Value;

    async Task RunAsync()
    {
        var token = stopping.Token;
        var failures = 0;
        try
        {
            while (true)
            {
                await Task.Delay(failures == 0 ? checkInterval : Rejoin.delay(failures), token);
                switch (Rejoin.judge(NodeId.NewNodeId(Self), bootUrl, await SeeAsync(token)))
                {
                    case Rejoin.Verdict.StayOut stayOut:
                        log(stayOut.reason);
                        return;
                    case Rejoin.Verdict.BootUnreachable unreachable:
                        failures++;
                        log($"{unreachable.reason}; asking again in {Rejoin.delay(failures).TotalSeconds} s");
                        break;
                    case Rejoin.Verdict.JoinAgain again:
                        log(again.reason);
                        if (await JoinAgainAsync(token))
                            failures = 0;
                        else
                            log($"asking again in {Rejoin.delay(++failures).TotalSeconds} s");
                        break;
                    default:
                        if (failures > 0)
                            log($"the boot node at {bootUrl} has node {Self} as a member again");
                        failures = 0;
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Disposed: the node host stops.
        }
    }

    /// One join attempt; the attempt's own line says how it went.
    async Task<bool> JoinAgainAsync(CancellationToken token)
    {
        try
        {
            await JoinClient.JoinAsync(bootUrl, apiToken, request, new JoinClient.Retry(TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, attemptTimeout), log, token);
            return true;
        }
        catch (JoinFailedException e)
        {
            log(e.Message);
            return false;
        }
    }

    async Task<Rejoin.Seen> SeeAsync(CancellationToken token)
    {
        try
        {
            using var response = await http.GetAsync(new Uri(new Uri(bootUrl), "/v1/cluster"), token);
            if (!response.IsSuccessStatusCode)
                return Rejoin.Seen.NewNoAnswer($"GET /v1/cluster answered {(int)response.StatusCode}");
            using var document = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(token));
            foreach (var member in document.RootElement.GetProperty("members").EnumerateArray())
            {
                if (member.GetProperty("id").GetInt32() == Self)
                    return StateOf(member.GetProperty("state").GetString());
            }
            return Rejoin.Seen.NotListed;
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or KeyNotFoundException or InvalidOperationException or FormatException
                                  || e is TaskCanceledException && !token.IsCancellationRequested)
        {
            return Rejoin.Seen.NewNoAnswer(e.Message.ReplaceLineEndings(" "));
        }
    }

    static Rejoin.Seen StateOf(string? state) => state switch
    {
        "joining" => Rejoin.Seen.NewListed(Membership.MemberState.Joining),
        "active" => Rejoin.Seen.NewListed(Membership.MemberState.Active),
        "draining" => Rejoin.Seen.NewListed(Membership.MemberState.Draining),
        "left" => Rejoin.Seen.NewListed(Membership.MemberState.Left),
        "lost" => Rejoin.Seen.NewListed(Membership.MemberState.Lost),
        _ => Rejoin.Seen.NewNoAnswer($"GET /v1/cluster gave this node the unknown state '{state}'"),
    };

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        await loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        http.Dispose();
        stopping.Dispose();
    }
}
