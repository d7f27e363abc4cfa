<?php
/**
 * Pushing to browsers through Herald from PHP: the original Workerman usage, kept as it was,
 * plus the control secret and a query. Needs only php-cli.
 *
 *   php push.php uid1 '88%'                 push "88%" to every tab of uid1; prints ok or fail
 *   php push.php uid1 '{"percent":"88%"}'   push a JSON payload
 *   php push.php --online uid1              is uid1 online, and with how many connections
 *
 * Environment: HERALD_CONTROL (default 127.0.0.1:5678), HERALD_CONTROL_SECRET (if set on Herald).
 *
 * Exit status, for shell scripts: 0 delivered (or query answered), 1 "fail" (nobody online to
 * receive it), 2 usage mistake, 3 Herald unreachable or answering with an error.
 */

const EXIT_FAIL = 1;
const EXIT_USAGE = 2;
const EXIT_ERROR = 3;

/** Opens a control connection, authenticating when a control secret is given. */
function herald_connect(string $address, ?string $secret = null)
{
    $client = @stream_socket_client("tcp://$address", $errno, $errmsg, 1);
    if ($client === false) {
        throw new RuntimeException("Cannot connect to Herald at $address: $errmsg");
    }
    if ($secret !== null && $secret !== '') {
        $reply = herald_request($client, ['auth' => $secret]);
        if ($reply !== 'ok') {
            throw new RuntimeException("Herald refused the control secret: $reply");
        }
    }
    return $client;
}

/** Sends one request line and returns the one reply line, without its newline. */
function herald_request($client, array $request): string
{
    fwrite($client, json_encode($request) . "\n");
    $reply = fgets($client);
    if ($reply === false) {
        throw new RuntimeException('Herald closed the connection');
    }
    return rtrim($reply, "\r\n");
}

// Arguments first: a usage mistake is reported as one, whether Herald is up or not.
$args = array_slice($argv, 1);
if (count($args) === 2 && $args[0] === '--online') {
    $request = ['cmd' => 'online', 'uid' => $args[1]];
} elseif (count($args) === 2 && !str_starts_with($args[0], '--')) {
    $decoded = json_decode($args[1], true);
    // The seed's shape: the uid plus the payload's own fields.
    $request = is_array($decoded)
        ? ['uid' => $args[0]] + $decoded
        : ['uid' => $args[0], 'data' => $args[1]];
} else {
    fwrite(STDERR, "usage: php push.php <uid> <text-or-json> | php push.php --online <uid>\n");
    exit(EXIT_USAGE);
}

try {
    $client = herald_connect(
        getenv('HERALD_CONTROL') ?: '127.0.0.1:5678',
        getenv('HERALD_CONTROL_SECRET') ?: null
    );
    $reply = herald_request($client, $request);
    fclose($client);
} catch (RuntimeException $error) {
    fwrite(STDERR, $error->getMessage() . "\n");
    exit(EXIT_ERROR);
}
echo $reply, "\n";
if ($reply === 'fail') {
    exit(EXIT_FAIL);
}
if (str_starts_with($reply, 'error: ')) {
    exit(EXIT_ERROR);
}
