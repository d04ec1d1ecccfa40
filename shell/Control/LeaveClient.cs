using System.Net.Http.Headers;

namespace SsiHv.Shell.Control;

/// <summary>
/// A memory node's stop: POST /v1/cluster/nodes/{id}/leave to its boot node, once, within a bounded time, so the
/// boot node sees the node <c>left</c> rather than, seconds later, <c>lost</c>. The boot node refuses the leave of
/// a node whose memory the running VM uses (drain it first); stopping goes on either way, and the answer is logged.
/// </summary>
public static class LeaveClient
{
    public static async Task LeaveAsync(string bootUrl, string apiToken, int id, TimeSpan timeout, Action<string> log)
    {
        var target = new Uri(new Uri(bootUrl), $"/v1/cluster/nodes/{id}/leave");
        try
        {
            using var http = new HttpClient { Timeout = timeout };
            using var message = new HttpRequestMessage(HttpMethod.Post, target);
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiToken);
            using var response = await http.SendAsync(message);
            var body = (await response.Content.ReadAsStringAsync()).ReplaceLineEndings(" ");
            log(response.IsSuccessStatusCode
                ? $"leave {target}: accepted: {body}"
                : $"leave {target}: refused, so the boot node will count this node lost: {(int)response.StatusCode} {body}");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            log($"leave {target}: no answer within {timeout.TotalSeconds} s ({e.Message.ReplaceLineEndings(" ")}); the boot node will count this node lost");
        }
    }
}
