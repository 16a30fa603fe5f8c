import java.net.InetSocketAddress;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.handler.ContextHandler;
import org.eclipse.jetty.server.handler.ContextHandlerCollection;
import software.amazon.dynamodb.services.local.main.CommandLineInput;
import software.amazon.dynamodb.services.local.server.LocalDynamoDBRequestHandler;
import software.amazon.dynamodb.services.local.server.LocalDynamoDBServerHandler;

/**
 * DynamoDB Local on 127.0.0.1 only (hardening finding 2, RL-10). Run with Java 17's single-file source
 * mode, DynamoDB Local's jar and its libraries on the class path:
 *
 * <pre>java -Djava.library.path=LIB -cp DynamoDBLocal.jar:LIB/* DynamoDBLocalLoopback.java -port N ...</pre>
 *
 * DynamoDB Local has no host option: its ServerRunner builds `new DynamoDBProxyServer(port, handler)`,
 * which is a Jetty `new Server(port)`, a connector on every interface. This launcher takes the same
 * command line (parsed by DynamoDB Local's own CommandLineInput: -port, -inMemory, -dbPath, -sharedDb,
 * -cors, -delayTransientStatuses, -help, -version), builds the same handler as
 * ServerRunner.createServer (LocalDynamoDBServerHandler over LocalDynamoDBRequestHandler, in a
 * ContextHandler, as DynamoDBProxyServer.setUpHandler does), and gives it a Jetty server whose one
 * connector listens on 127.0.0.1. It configures no telemetry, so nothing is sent.
 */
public final class DynamoDBLocalLoopback {
  static final String HOST = "127.0.0.1";

  public static void main(String[] args) throws Exception {
    CommandLineInput cli = new CommandLineInput(args);
    // false after -help or -version (printed) or invalid options (the reason printed)
    if (!cli.init()) System.exit(2);
    if (cli.shouldOptimizeDBBeforeStartup()) {
      System.err.println("-optimizeDbBeforeStartup is not supported by this launcher");
      System.exit(2);
    }
    LocalDynamoDBServerHandler handler =
        new LocalDynamoDBServerHandler(
            new LocalDynamoDBRequestHandler(
                0, cli.isInMemory(), cli.getDbPath(), cli.getSharedDb(), cli.shouldDelayTransientStatuses()),
            cli.getCorsParams());
    ContextHandler context = new ContextHandler();
    context.setHandler(handler);
    ContextHandlerCollection contexts = new ContextHandlerCollection();
    contexts.addHandler(context);

    Server server = new Server(new InetSocketAddress(HOST, cli.getPort()));
    server.setHandler(contexts);
    // SIGTERM/SIGINT: stop Jetty, then close the database (what DynamoDBProxyServer.stop does)
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  try {
                    server.stop();
                  } catch (Exception e) {
                    System.err.println("stopping Jetty failed: " + e);
                  }
                  handler.close();
                }));
    try {
      server.start();
    } catch (Exception e) {
      System.err.printf("Could not start server on %s:%d: %s%n", HOST, cli.getPort(), e.getMessage());
      System.exit(1);
    }
    System.out.printf(
        "DynamoDB Local listening on %s:%d (inMemory %b, dbPath %s, sharedDb %b)%n",
        HOST, cli.getPort(), cli.isInMemory(), cli.getDbPath(), cli.getSharedDb());
    server.join();
  }
}
