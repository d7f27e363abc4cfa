<?php
/**
 * Receiving Herald's webhooks in PHP: check the X-Herald-Signature header, then handle the
 * events. Herald POSTs {"events":[{"event":"online"|"offline"|"message","uid":…,"time_ms":…}, …]}
 * with `code` on offline and `data` on message; answer 2xx once handled. Herald retries 5xx,
 * 408 and 429 (same body), and drops a batch answered with any other status.
 *
 * As a web endpoint (php-fpm, or `php -S 127.0.0.1:8080 webhook_receiver.php`), with the secret
 * in HERALD_WEBHOOK_SECRET: answers 204, or 400 when the signature does not check out.
 *
 * From the command line, to check a captured request:
 *   HERALD_WEBHOOK_SECRET=… HERALD_SIGNATURE='t=…,v1=…' php webhook_receiver.php < body.json
 * prints one line per event and exits 0, or exits 1 when the signature does not check out.
 */

/**
 * True when $header signs $body (the raw request body, byte for byte) with $secret, less than
 * $toleranceSeconds from now. The tolerance is what makes a recorded request useless later.
 */
function herald_verify_webhook(
    string $secret,
    string $body,
    string $header,
    int $toleranceSeconds = 300,
    ?int $now = null
): bool {
    $fields = [];
    foreach (explode(',', $header) as $part) {
        $pair = explode('=', trim($part), 2);
        if (count($pair) === 2) {
            $fields[$pair[0]] = $pair[1];
        }
    }
    $t = $fields['t'] ?? '';
    $v1 = $fields['v1'] ?? '';
    if (!ctype_digit($t) || strlen($t) > 15) {
        return false;
    }
    if (abs(($now ?? time()) - (int) $t) > $toleranceSeconds) {
        return false;
    }
    $expected = hash_hmac('sha256', $t . '.' . $body, $secret);
    // hash_equals takes the same time however much matches: no timing leak.
    return hash_equals($expected, $v1);
}

/** What your application does with one event; here, one line of text. */
function herald_describe_event(array $event): string
{
    switch ($event['event'] ?? '') {
        case 'online':
            return "online {$event['uid']}";
        case 'offline':
            return "offline {$event['uid']} {$event['code']}";
        case 'message':
            return "message {$event['uid']} " . json_encode($event['data'], JSON_UNESCAPED_UNICODE);
        default:
            return 'unknown ' . json_encode($event); // Newer Herald: ignore what you do not know.
    }
}

$secret = getenv('HERALD_WEBHOOK_SECRET');
if ($secret === false || $secret === '') {
    error_log("Set HERALD_WEBHOOK_SECRET to Herald's --webhook-secret");
    if (PHP_SAPI !== 'cli') {
        http_response_code(500);
    }
    exit(2);
}

if (PHP_SAPI === 'cli') {
    $body = stream_get_contents(STDIN);
    if (!herald_verify_webhook($secret, $body, getenv('HERALD_SIGNATURE') ?: '')) {
        fwrite(STDERR, "invalid signature\n");
        exit(1);
    }
    foreach (json_decode($body, true)['events'] as $event) {
        echo herald_describe_event($event), "\n";
    }
    exit(0);
}

$body = file_get_contents('php://input');
if ($_SERVER['REQUEST_METHOD'] !== 'POST'
    || !herald_verify_webhook($secret, $body, $_SERVER['HTTP_X_HERALD_SIGNATURE'] ?? '')) {
    http_response_code(400);
    exit;
}
foreach (json_decode($body, true)['events'] as $event) {
    error_log(herald_describe_event($event));
}
http_response_code(204);
