using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace SsiHv.Shell.Control;

/// <summary>
/// A memory node's start-up: POST /v1/cluster/join to the boot node with the bearer token, retried with
/// doubling back-off (the boot node may still be starting) until a bounded time has passed. Each attempt is
/// logged. The boot node answers 202 once it has taken the request; a 4xx answer (bad token, refused member)
/// will not change by retrying, so it ends the attempts at once.
/// </summary>
public static class JoinClient
{
    public sealed record Retry(TimeSpan Total, TimeSpan FirstDelay, TimeSpan MaximumDelay, TimeSpan AttemptTimeout)
    {
        public static Retry Default { get; } =
            new(TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10));
    }

    /// Completes when the boot node accepted the join; throws <see cref="JoinFailedException"/> naming the boot
    /// URL and the last answer otherwise.
    public static async Task JoinAsync(
        string bootUrl, string apiToken, JoinRequest request, Retry retry, Action<string> log, CancellationToken cancellation)
    {
        using var http = new HttpClient { Timeout = retry.AttemptTimeout };
        var target = new Uri(new Uri(bootUrl), "/v1/cluster/join");
        var deadline = DateTime.UtcNow + retry.Total;
        var delay = retry.FirstDelay;
        for (var attempt = 1; ; attempt++)
        {
            string outcome;
            try
            {
                using var message = new HttpRequestMessage(HttpMethod.Post, target)
                {
                    Content = JsonContent.Create(request, ControlJsonContext.Default.JoinRequest),
                };
                message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiToken);
                using var response = await http.SendAsync(message, cancellation);
                var body = (await response.Content.ReadAsStringAsync(cancellation)).ReplaceLineEndings(" ");
                outcome = $"{(int)response.StatusCode} {body}";
                if (response.IsSuccessStatusCode)
                {
                    log($"join {target} (attempt {attempt}): accepted: {body}");
                    return;
                }
                if ((int)response.StatusCode is >= 400 and < 500)
                    throw new JoinFailedException($"the boot node at {bootUrl} refused the join: {outcome}");
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellation.IsCancellationRequested)
            {
                outcome = e.Message.ReplaceLineEndings(" ");
            }
            var remaining = deadline - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero)
                throw new JoinFailedException(
                    $"could not join the boot node at {bootUrl} within {retry.Total.TotalSeconds} s ({attempt} attempts); last: {outcome}");
            var wait = delay < remaining ? delay : remaining;
            log($"join {target} (attempt {attempt}): {outcome}; retrying in {wait.TotalSeconds:0.###} s");
            await Task.Delay(wait, cancellation);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, retry.MaximumDelay.Ticks));
        }
    }
}

public sealed class JoinFailedException(string message) : Exception(message);
